"""SO(3) helpers in numpy (float64), batched over leading dimensions.

Axis-angle vectors `phi` (..., 3), rotation matrices (..., 3, 3) acting on column vectors.
`right_jacobian` J_r(phi) maps a change d(phi) to the body-frame rotation it causes:
exp(phi + d) ~= exp(phi) exp(J_r(phi) d); `right_jacobian_inv` is its inverse, so the axis-angle
of R exp(delta) changes by J_r^-1(log R) delta. Formulas: e.g. Barfoot, "State Estimation for
Robotics", sec. 7.1.
"""
import numpy as np

_EPS = 1e-6


def skew(v):
    """Cross-product matrices (..., 3, 3) of vectors (..., 3): [a]x b = a x b."""
    v = np.asarray(v, np.float64)
    out = np.zeros(v.shape[:-1] + (3, 3))
    out[..., 0, 1], out[..., 0, 2] = -v[..., 2], v[..., 1]
    out[..., 1, 0], out[..., 1, 2] = v[..., 2], -v[..., 0]
    out[..., 2, 0], out[..., 2, 1] = -v[..., 1], v[..., 0]
    return out


def _angle(phi):
    theta = np.linalg.norm(phi, axis=-1)
    return theta, theta < _EPS


def exp(phi):
    """Rodrigues: axis-angle (..., 3) -> rotation matrices (..., 3, 3)."""
    phi = np.asarray(phi, np.float64)
    theta, small = _angle(phi)
    t = np.where(small, 1.0, theta)
    a = np.where(small, 1.0 - theta ** 2 / 6.0, np.sin(t) / t)
    b = np.where(small, 0.5 - theta ** 2 / 24.0, (1.0 - np.cos(t)) / t ** 2)
    k = skew(phi)
    return np.eye(3) + a[..., None, None] * k + b[..., None, None] * (k @ k)


def log(rot):
    """Rotation matrices (..., 3, 3) -> axis-angle (..., 3), robust near 0 and pi."""
    rot = np.asarray(rot, np.float64)
    cos = np.clip((np.trace(rot, axis1=-2, axis2=-1) - 1.0) * 0.5, -1.0, 1.0)
    theta = np.arccos(cos)
    vee = np.stack([rot[..., 2, 1] - rot[..., 1, 2], rot[..., 0, 2] - rot[..., 2, 0],
                    rot[..., 1, 0] - rot[..., 0, 1]], -1)
    sin = np.sin(theta)
    small = theta < 1e-4
    near_pi = theta > np.pi - 1e-3
    scale = np.where(small, 0.5 + theta ** 2 / 12.0, theta / (2.0 * np.where(small, 1.0, sin)))
    out = vee * scale[..., None]
    if np.any(near_pi):
        # axis from the symmetric part: R = 2 a a^T - I at theta = pi
        sym = (rot[near_pi] + np.eye(3)) * 0.5
        col = np.argmax(np.diagonal(sym, axis1=-2, axis2=-1), -1)
        axis = np.take_along_axis(sym, col[:, None, None].repeat(3, 1), -1)[..., 0]
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True) + 1e-12
        sign = np.where((axis * vee[near_pi]).sum(-1) < 0, -1.0, 1.0)
        out[near_pi] = axis * (theta[near_pi] * sign)[..., None]
    return out


def right_jacobian(phi):
    """J_r(phi) (..., 3, 3)."""
    phi = np.asarray(phi, np.float64)
    theta, small = _angle(phi)
    t = np.where(small, 1.0, theta)
    a = np.where(small, 0.5 - theta ** 2 / 24.0, (1.0 - np.cos(t)) / t ** 2)
    b = np.where(small, 1.0 / 6.0 - theta ** 2 / 120.0, (t - np.sin(t)) / t ** 3)
    k = skew(phi)
    return np.eye(3) - a[..., None, None] * k + b[..., None, None] * (k @ k)


def right_jacobian_inv(phi):
    """J_r(phi)^-1 (..., 3, 3)."""
    phi = np.asarray(phi, np.float64)
    theta, small = _angle(phi)
    t = np.clip(np.where(small, 1.0, theta), _EPS, np.pi - 1e-3)
    c = np.where(small, 1.0 / 12.0 + theta ** 2 / 720.0,
                 1.0 / t ** 2 - (1.0 + np.cos(t)) / (2.0 * t * np.sin(t)))
    k = skew(phi)
    return np.eye(3) + 0.5 * k + c[..., None, None] * (k @ k)
