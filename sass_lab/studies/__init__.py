"""Studies of the seed papers, built on the lab: Winograd transforms, FP32 accuracy, efficiency analysis."""
