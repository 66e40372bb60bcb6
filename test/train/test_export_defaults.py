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


def test_lifter_extract_swap_and_blend(tmp_path):
    """The bundled DPMesh's lifter comes out as a train_lifter checkpoint and goes back in,
    whole or blended with the one inside."""
    import pytest
    from hmr_models.checkpoints import read_config, read_weights, save_checkpoint
    bundled = export_defaults.ASSETS_DIR / 'weights' / 'dpmesh_compact'
    lifter = export_defaults.extract_lifter(bundled, tmp_path / 'lifter')
    inside = read_weights(bundled)
    prefix = export_defaults.LIFTER_PREFIX
    shifted = {k: v + 1.0 for k, v in read_weights(lifter).items()}
    save_checkpoint(tmp_path / 'shifted', read_config(lifter), shifted, 'keypoint_lifter')
    blended = read_weights(export_defaults.with_lifter(bundled, tmp_path / 'shifted',
                                                       tmp_path / 'blend', share=0.25))
    assert set(blended) == set(inside)
    for k, v in inside.items():
        expected = v.float() + 0.25 if k.startswith(prefix) else v.float()
        torch.testing.assert_close(blended[k].float(), expected, atol=2e-3, rtol=1e-3)
    with pytest.raises(ValueError, match='share'):
        export_defaults.with_lifter(bundled, tmp_path / 'shifted', tmp_path / 'bad', share=0.0)


def test_a_new_lifter_goes_into_the_bundled_weights_by_the_documented_command(tmp_path, capsys):
    """`export_defaults --lifter L --lifter-share 0.5` on the bundled DPMesh (itself exported
    before, so its provenance already names a source) writes loadable weights."""
    from hmr_models.checkpoints import read_meta
    bundled = export_defaults.ASSETS_DIR / 'weights' / 'dpmesh_compact'
    lifter = export_defaults.extract_lifter(bundled, tmp_path / 'lifter')
    code = export_defaults.main(['--lifter', str(lifter), '--lifter-share', '0.5',
                                 '--out', str(tmp_path / 'weights')])
    assert code == 0 and 'max pose difference' in capsys.readouterr().out
    meta = read_meta(tmp_path / 'weights' / 'dpmesh_compact')
    assert meta['lifter_from'] == str(lifter) and meta['lifter_share'] == 0.5
    assert meta['exported_from'] != read_meta(bundled)['exported_from']
    DPMesh.from_pretrained(tmp_path / 'weights' / 'dpmesh_compact')


def test_a_grown_lifter_answers_as_before_and_replaces_the_one_inside(tmp_path):
    """train_lifter's grow_blocks adds a block that starts as about the identity; the grown
    lifter goes into the bundled DPMesh whole (its config says 3 blocks) but cannot be blended."""
    import numpy as np
    import pytest
    from hmr_models.checkpoints import read_config
    from hmr_models.dpmesh.parts.keypoint_lifter import grow_blocks
    from hmr_models.train.train_lifter import load_lifter, save_lifter
    bundled = export_defaults.ASSETS_DIR / 'weights' / 'dpmesh_compact'
    lifter = load_lifter(export_defaults.extract_lifter(bundled, tmp_path / 'lifter')).eval()
    g = torch.Generator().manual_seed(0)
    kp, box = torch.rand(6, 17, 2, generator=g), torch.rand(6, 3, generator=g) * 0.2
    valid, scores = torch.ones(6, 17, dtype=torch.bool), torch.full((6, 17), 0.8)
    with torch.no_grad():
        before = lifter(kp, valid, box, scores)
        grow_blocks(lifter, 3)
        after = lifter.eval()(kp, valid, box, scores)
    assert len(lifter.blocks) == 3 and lifter.config.blocks == 3
    for k in ('root6d', 'body6d', 'betas', 'camera'):
        torch.testing.assert_close(after[k], before[k], atol=0.02, rtol=0.02)
    with torch.no_grad():                       # the new block is not dead: it changes the answer
        lifter.blocks[2].net[-3].weight.fill_(1.0)
        assert not torch.allclose(lifter(kp, valid, box, scores)['body6d'], after['body6d'],
                                  atol=0.02)
    grown = save_lifter(lifter, tmp_path / 'grown')
    swapped = export_defaults.with_lifter(bundled, grown, tmp_path / 'swapped')
    assert read_config(swapped)['keypoint_lifter']['blocks'] == 3
    model = DPMesh.from_pretrained(swapped)
    assert len(model.keypoint_lifter.blocks) == 3
    assert np.isclose(float(model.keypoint_lifter.blocks[2].net[-3].weight[0]), 1.0, atol=1e-3)
    with pytest.raises(ValueError, match='blended'):
        export_defaults.with_lifter(bundled, grown, tmp_path / 'bad', share=0.5)
