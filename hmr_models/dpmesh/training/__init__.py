"""What only training needs: DPMesh's losses and the detector-like keypoint corruption of the
NKR student's inputs."""
