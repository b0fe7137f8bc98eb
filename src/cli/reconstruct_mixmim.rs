//! `tessera reconstruct` for MixMIM: the images are mixed in pairs (sample `i` with `N − 1 − i`,
//! one mask for the batch, drawn from the seed), and each row of the picture shows a pair,
//! both mixed inputs and both un-mixed reconstructions. The mean loss of the shown images
//! under that mask (the held-out loss when they are test images) is printed and drawn.
use std::path::Path;

use tessera_dsl::rng::Rng;
use tessera_dsl::spec::ModelSpec;
use tessera_models::eval::evaluate;
use tessera_models::mixmim::partner;
use tessera_models::mixmim::picture::{draw_pairs, mix, PairRow};
use tessera_models::sample::Samples;
use tessera_models::viz::{reconstruct_one, Denormalize, PatchLayout};
use tessera_runtime::backend::Device;

use super::bad_input;
use super::reconstruct::Request;

/// Stream of the mixing masks of pictures (distinct from training's, which use the step).
const MIX_STREAM: u64 = 0x4d49_584d; // "MIXM"

/// Draws the pairs of `req` to `out`; returns the legend (the loss line first).
pub fn draw(req: &Request<'_>, spec: &ModelSpec, out: &Path) -> anyhow::Result<Vec<String>> {
    let n = req.n;
    if n < 2 || n % 2 == 1 {
        return Err(bad_input(format!(
            "MixMIM mixes image i with image N-1-i; ask for an even --count of at least 2 \
             (got {n})"
        )));
    }
    let model = super::model_args::model_of(spec)?;
    let mut rng = Rng::for_stream(req.seed, &[MIX_STREAM]);
    let inputs = model.step_inputs(&Samples::pixels(req.imgs), &mut rng)?;
    let result = evaluate(
        model.as_ref(),
        &req.ckpt.params,
        &inputs,
        false,
        &mut Device::Cpu,
    )?;
    let geo = model.geometry();
    let layout = PatchLayout {
        channels: geo.channels,
        img: geo.image,
        patch: geo.patch,
    };
    let (l, pd, per) = (layout.tokens(), layout.patch_dim(), model.image().numel());
    let rebuilt = model.pred_in_raster_order(&inputs, &result.pred.data);
    let partner_cells: Vec<bool> = result.mask.data[..l].iter().map(|&m| m > 0.5).collect();
    let norm_pix = geo.target.is_norm_pix();
    let image = |i: usize| &req.imgs[i * per..(i + 1) * per];
    let every_cell = vec![1.0; l];
    let rebuild = |i: usize| {
        let pred = &rebuilt[i * l * pd..(i + 1) * l * pd];
        reconstruct_one(&layout, image(i), pred, &every_cell, norm_pix).reconstruction
    };
    let rows: Vec<PairRow> = (0..n / 2)
        .map(|i| {
            let j = partner(i, n);
            PairRow {
                a: image(i).to_vec(),
                b: image(j).to_vec(),
                a_mixed: mix(&layout, image(i), image(j), &partner_cells),
                b_mixed: mix(&layout, image(j), image(i), &partner_cells),
                a_rebuilt: rebuild(i),
                b_rebuilt: rebuild(j),
            }
        })
        .collect();
    let mixed = partner_cells.iter().filter(|&&p| p).count();
    let mut legend = vec![
        format!(
            "loss {:.4}: the mean over these {n} images of the squared error of every \
             reconstructed cell, as MixMIM trains (mask seed {}).",
            result.loss, req.seed
        ),
        format!(
            "{}: MixMIM; {mixed} of {l} cells (outlined) come from the partner image, one mask \
             for the whole batch. Each rebuilt cell is predicted by the decoder branch in which \
             it was hidden behind the mask token.",
            req.name
        ),
    ];
    legend.push(if norm_pix {
        "norm-pix model: its prediction is per-patch normalized; each cell's mean and variance \
         were taken from the ORIGINAL image and re-injected (this uses ground-truth statistics)."
            .into()
    } else {
        "pixel-target model: the prediction is shown as it is.".into()
    });
    let denorm = Denormalize {
        mean: req.normalize.mean().to_vec(),
        std: req.normalize.std().to_vec(),
    };
    let canvas = draw_pairs(
        &rows,
        &layout,
        &partner_cells,
        &denorm,
        "MixMIM reconstruction",
        &legend,
    );
    canvas
        .save_png(out)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    Ok(legend)
}
