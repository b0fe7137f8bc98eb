//! One M3AE batch through a backend with everything the official training step reports: the
//! loss and its two parts, the image prediction, the text logits, the text accuracy and,
//! optionally, every parameter's gradient.
use tessera_runtime::backend::Device;

use super::{inputs, M3aeModel};
use crate::eval::{evaluate_step, EvalError, EvalOutput};
use crate::model::{Extras, InputValues, StepInputs};
use crate::params::ParamSet;
use crate::tensors::Tensor;

/// An M3AE evaluation: the common outputs (`pred` is the image head's `[N, L, p·p·C]`, `mask`
/// the image mask) plus the text side.
#[derive(Clone, Debug, PartialEq)]
pub struct M3aeEval {
    pub common: EvalOutput,
    pub image_loss: f32,
    pub text_loss: f32,
    /// Official `text_accuracy`: per sample, the share of counted tokens whose arg-max logit
    /// is the token, averaged over samples (0 for a sample without counted tokens).
    pub text_accuracy: f32,
    /// `[N, T, V]` logits of every text position.
    pub text_output: Tensor,
    /// `[N, T]`, 1 where the text position was removed by masking (padding or not).
    pub text_mask: Tensor,
}

fn values<'a>(inputs: &'a StepInputs, name: &str) -> &'a InputValues {
    &inputs
        .tensors
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("M3AE inputs always hold `{name}`"))
        .1
}

/// Runs `inputs` (made by [`M3aeModel::inputs`]) through `model` in f32 on `device`.
pub fn evaluate(
    model: &M3aeModel,
    params: &ParamSet,
    inputs: &StepInputs,
    grads: bool,
    device: &mut Device,
) -> Result<M3aeEval, EvalError> {
    let extras = if grads { Extras::Grads } else { Extras::None };
    let (sg, text) = model.step_graph_with_text(inputs.shape, &extras)?;
    let also = [text.logits, text.image_loss, text.text_loss];
    let (common, read) = evaluate_step(&sg, &also, params, inputs, device)?;
    let [logits, image_loss, text_loss]: [Vec<f32>; 3] =
        read.try_into().expect("three nodes read back");
    let spec = model.m3ae_spec();
    let (n, t, v) = (inputs.shape.batch, spec.text_len, spec.vocab);
    let (InputValues::U32(ids), InputValues::F32(weights), InputValues::U32(restore)) = (
        values(inputs, inputs::TEXT),
        values(inputs, inputs::TEXT_WEIGHTS),
        values(inputs, inputs::TEXT_IDS_RESTORE),
    ) else {
        panic!("M3AE inputs hold ids as u32 and weights as f32");
    };
    let InputValues::F32(scale) = values(inputs, inputs::TEXT_LOSS_SCALE) else {
        panic!("the text loss scale is f32");
    };
    // Weights are 1/n_b on counted tokens, so Σ_t w·correct is sample b's accuracy.
    let mut correct = 0.0f64;
    if scale[0] > 0.0 {
        for (i, row) in logits.chunks_exact(v).enumerate() {
            let best = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |m, (j, &x)| if x > m.1 { (j, x) } else { m },
                );
            if weights[i] > 0.0 && best.0 == ids[i] as usize {
                correct += weights[i] as f64;
            }
        }
    }
    let keep = model.dims().text_keep;
    let row: Vec<f32> = restore
        .iter()
        .map(|&r| if (r as usize) < keep { 0.0 } else { 1.0 })
        .collect();
    Ok(M3aeEval {
        common,
        image_loss: image_loss[0],
        text_loss: text_loss[0],
        text_accuracy: (correct / n as f64) as f32,
        text_output: Tensor {
            shape: vec![n, t, v],
            data: logits,
        },
        text_mask: Tensor {
            shape: vec![n, t],
            data: row.repeat(n),
        },
    })
}
