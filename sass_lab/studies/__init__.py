"""Studies of the seed papers, built on the lab: Winograd transforms, FP32 accuracy, efficiency analysis,
the residual blocks (float64 references, error scales) and the fusion planner."""
