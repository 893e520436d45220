"""What the simulated camera delivers: the detection model (boxes from ground truth, with misses, jitter and
false positives), the scene renderer and the person sprites it draws."""
