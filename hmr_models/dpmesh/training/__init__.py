"""What only DPMesh's training needs.

Its losses, and the detector-like keypoint corruption of the NKR student's inputs.
"""
