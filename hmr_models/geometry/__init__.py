"""The bottom layer every model and data module shares: rotations, kinematics, projection, affines.

- `rotations`: torch conversions (axis-angle, matrices, quaternions, 6D), differentiable.
- `rotations_np`: the same names in numpy float64 (through scipy), plus motion-data helpers.
- `kinematics`: forward kinematics of joint trees (torch and numpy).
- `projection`: pinhole projection and CLIFF's crop-to-image camera (torch).
- `affine`: OpenCV-convention 2D affines (numpy and torch).

Nothing here imports from the rest of the package except `hmr_models.skeleton`.
"""
