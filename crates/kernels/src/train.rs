//! A fine-tuning-shaped workload: a linear model trained by mini-batch stochastic gradient
//! descent on a seeded synthetic data set, the shape of a training job (data, epochs, a loss
//! curve, weights out) at a size that runs in a second on a CPU.
//! Input: text `EPOCHS SAMPLES FEATURES SEED` (1 to 1,000 epochs, 1 to 100,000 samples, 1 to 64
//! features). The data: `x` uniform in [-1, 1), `y = w*·x + 0.5 + noise`, with `w*` and the
//! noise drawn from the seed. Output: one line per epoch (`epoch N mse M`), then `weights ...`
//! and `bias B`, six decimals.

use crate::{bad, number, words, Generator, InputError};

/// Most epochs.
pub const MAX_EPOCHS: u32 = 1_000;
/// Most samples.
pub const MAX_SAMPLES: usize = 100_000;
/// Most features.
pub const MAX_FEATURES: usize = 64;

fn uniform(generator: &mut Generator) -> f64 {
    // 53 random bits in [0, 1), then [-1, 1).
    (generator.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// Trains the input's model.
pub fn run(input: &[u8]) -> Result<Vec<u8>, InputError> {
    let words = words(input)?;
    let epochs: u32 = number(words.first(), "EPOCHS")?;
    let samples: usize = number(words.get(1), "SAMPLES")?;
    let features: usize = number(words.get(2), "FEATURES")?;
    let seed: u64 = number(words.get(3), "SEED")?;
    if !(1..=MAX_EPOCHS).contains(&epochs)
        || !(1..=MAX_SAMPLES).contains(&samples)
        || !(1..=MAX_FEATURES).contains(&features)
    {
        return Err(bad(format!(
            "EPOCHS is 1 to {MAX_EPOCHS}, SAMPLES 1 to {MAX_SAMPLES}, FEATURES 1 to {MAX_FEATURES}"
        )));
    }
    let mut generator = Generator::new(seed);
    let truth: Vec<f64> = (0..features).map(|_| uniform(&mut generator)).collect();
    let mut xs = Vec::with_capacity(samples * features);
    let mut ys = Vec::with_capacity(samples);
    for _ in 0..samples {
        let row: Vec<f64> = (0..features).map(|_| uniform(&mut generator)).collect();
        let clean: f64 = row.iter().zip(&truth).map(|(x, w)| x * w).sum::<f64>() + 0.5;
        ys.push(clean + 0.01 * uniform(&mut generator));
        xs.extend(row);
    }
    let mut weights = vec![0.0f64; features];
    let mut bias = 0.0f64;
    let rate = 0.1;
    let batch = 32usize;
    let mut out = String::new();
    for epoch in 1..=epochs {
        for start in (0..samples).step_by(batch) {
            let end = (start + batch).min(samples);
            let mut gradient = vec![0.0f64; features];
            let mut gradient_bias = 0.0f64;
            for sample in start..end {
                let row = &xs[sample * features..(sample + 1) * features];
                let error =
                    row.iter().zip(&weights).map(|(x, w)| x * w).sum::<f64>() + bias - ys[sample];
                for (g, x) in gradient.iter_mut().zip(row) {
                    *g += error * x;
                }
                gradient_bias += error;
            }
            let scale = rate / (end - start) as f64;
            for (w, g) in weights.iter_mut().zip(&gradient) {
                *w -= scale * g;
            }
            bias -= scale * gradient_bias;
        }
        let mse = (0..samples)
            .map(|sample| {
                let row = &xs[sample * features..(sample + 1) * features];
                let error =
                    row.iter().zip(&weights).map(|(x, w)| x * w).sum::<f64>() + bias - ys[sample];
                error * error
            })
            .sum::<f64>()
            / samples as f64;
        out.push_str(&format!("epoch {epoch} mse {mse:.6}\n"));
    }
    let weights: Vec<String> = weights.iter().map(|w| format!("{w:.6}")).collect();
    out.push_str(&format!("weights {}\nbias {bias:.6}\n", weights.join(" ")));
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_recovers_the_seeded_model() {
        let output = String::from_utf8(run(b"30 2000 4 7").expect("trains")).expect("text");
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), 32);
        let mse =
            |line: &str| -> f64 { line.rsplit(' ').next().expect("mse").parse().expect("f64") };
        assert!(mse(lines[29]) < mse(lines[0]), "{output}");
        assert!(mse(lines[29]) < 1e-3, "{output}");
        let bias: f64 = lines[31].trim_start_matches("bias ").parse().expect("bias");
        assert!((bias - 0.5).abs() < 0.01, "{output}");
        assert!(run(b"0 10 1 1").is_err());
        assert!(run(b"1 10 65 1").is_err());
    }
}
