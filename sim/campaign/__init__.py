"""Safety evidence at scale (issue 13, first slice): scenario families, signed margins per invariant, Monte Carlo
campaigns on a process pool with Clopper-Pearson bounds, case ids and trace hashes, replay."""
