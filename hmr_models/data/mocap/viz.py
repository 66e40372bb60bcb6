"""Skeleton strips (matplotlib) to look at retargeted motion next to its source."""
import numpy as np

from hmr_models.skeleton import SMPL24_PARENTS

from .motion import smpl_forward_kinematics
from .source import world_kinematics


def _draw(ax, joints, parents, colour, lw=1.5):
    for j, p in enumerate(parents):
        if p >= 0:
            seg = joints[[p, j]]
            # Plot as (x, z, y): matplotlib's vertical axis is z, ours is y.
            ax.plot(seg[:, 0], seg[:, 2], seg[:, 1], color=colour, lw=lw)


def save_retarget_strip(path, source, smpl_motion, rest_joints, num_frames=8, title=None,
                        elev=10.0, azim=-60.0):
    """Write a PNG: the source skeleton (top row) and the SMPL skeleton (bottom row).

    Args:
        path: output .png.
        source: SourceMotion (drawn in SMPL axes, scaled by ``smpl_motion.meta['scale']``).
        smpl_motion: its retargeted SMPLMotion at the same frames (before resampling).
        rest_joints: (24, 3) target rest joints.
        num_frames: frames shown, evenly spaced.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    _, src_pos = world_kinematics(source)
    src_pos = src_pos * smpl_motion.meta.get('scale', 1.0)
    joints, _ = smpl_forward_kinematics(smpl_motion.pose, smpl_motion.trans, rest_joints)
    frames = np.linspace(0, len(joints) - 1, num_frames).round().astype(int)
    fig = plt.figure(figsize=(2.2 * num_frames, 5.0))
    for row, (pos, parents, colour) in enumerate(
            ((src_pos, source.parents, 'tab:blue'), (joints, SMPL24_PARENTS, 'tab:red'))):
        for col, f in enumerate(frames):
            ax = fig.add_subplot(2, num_frames, row * num_frames + col + 1, projection='3d')
            centre = joints[f, 0]
            _draw(ax, pos[f], parents, colour)
            r = 1.0
            ax.set_xlim(centre[0] - r, centre[0] + r)
            ax.set_ylim(centre[2] - r, centre[2] + r)
            ax.set_zlim(0.0, 2.0)
            ax.set_box_aspect((1, 1, 1))
            ax.view_init(elev=elev, azim=azim)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_zticks([])
            if row == 0:
                ax.set_title(f'frame {f}', fontsize=8)
    fig.suptitle(title or f'{source.name}: source (blue) vs SMPL (red)', fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
