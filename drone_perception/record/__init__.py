"""Flight record: every stage writes here; the audit reads it back."""
