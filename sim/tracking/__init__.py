"""Synthetic tracking scenarios (people seen by a hovering or moving camera, with detector noise) and the MOT
and subject-lock metrics the tracker's committed quality baseline is measured with."""
