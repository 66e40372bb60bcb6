"""Exporting trained runs as the bundled defaults: float16 DPMesh, loadable, within budget."""
import torch
from safetensors.torch import load_file

from diffmesh.diffmesh_helpers import tiny_config
from hmr_models.diffmesh import DiffMesh
from hmr_models.dpmesh import DPMesh, load_config
from hmr_models.train import export_defaults


def test_export_writes_half_precision_checkpoints_that_load(tmp_path, capsys):
    torch.manual_seed(0)
    DPMesh(load_config('tiny')).save_pretrained(tmp_path / 'dp')
    DiffMesh(tiny_config()).save_pretrained(tmp_path / 'dm')
    code = export_defaults.main(['--dpmesh', str(tmp_path / 'dp'), '--diffmesh',
                                 str(tmp_path / 'dm'), '--out', str(tmp_path / 'weights')])
    assert code == 0
    out = capsys.readouterr().out
    assert 'max pose difference' in out and 'of the 50 MB budget' in out
    state = load_file(str(tmp_path / 'weights' / 'dpmesh_compact' / 'model.safetensors'))
    floats = [v for v in state.values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    model = DPMesh.from_pretrained(tmp_path / 'weights' / 'dpmesh_compact')
    assert next(model.parameters()).dtype == torch.float32
    DiffMesh.from_pretrained(tmp_path / 'weights' / 'diffmesh_compact')
