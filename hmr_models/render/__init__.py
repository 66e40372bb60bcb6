"""Pictures of bodies: mesh overlays on camera images, and per-track colours."""
from .colors import track_color, track_colors
from .overlay import OverlayRenderer, RendererUnavailable, vertex_normals

__all__ = ['OverlayRenderer', 'RendererUnavailable', 'track_color', 'track_colors',
           'vertex_normals']
