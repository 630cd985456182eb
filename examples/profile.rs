//! Where the time goes in one model call: runs a window through hark's optimized tract plan
//! with a timing wrapper around every node, and prints time per op kind.
//!
//! `cargo run --release --example profile -- MODEL_DIR [SECONDS] [THREADS] [RUNS]`
//!
//! Defaults: models/demo, a 10 s window, 2 threads, 5 timed runs after one warm-up. The input is
//! the speech-like signal `benches/model.rs` uses (`features::bench_signal`). Per-node timing
//! adds a little overhead of its own; the total is printed next to an untimed run so the two
//! can be compared.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hark::features;
use hark::model::ModelBundle;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::{eval, SimpleState};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "models/demo".into()));
    let seconds: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10.0);
    let threads: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2);
    let runs: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);

    let bundle = ModelBundle::load_with_threads(&dir, threads)?;
    let samples = (seconds * 16000.0) as usize;
    let mut input = features::bench_signal(samples);
    features::normalize(&mut input);
    let plan = bundle.plan(samples)?;
    let make_input = || -> anyhow::Result<TVec<TValue>> {
        Ok(tvec!(Tensor::from_shape(&[1, samples], &input)?.into()))
    };

    // Untimed reference: the plain run hark does.
    plan.run(make_input()?)?;
    let mut plain = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        plan.run(make_input()?)?;
        plain.push(t.elapsed());
    }
    plain.sort();

    let mut by_op: HashMap<String, (Duration, usize)> = HashMap::new();
    let mut total = Duration::ZERO;
    for run in 0..=runs {
        let mut state = SimpleState::new(&plan)?;
        let mut timings: Vec<(String, Duration)> = Vec::new();
        let t = Instant::now();
        state.run_plan_with_eval(make_input()?, |ctx, op_state, node, inputs| {
            let t = Instant::now();
            let out = eval(ctx, op_state, node, inputs);
            timings.push((node.op().name().to_string(), t.elapsed()));
            out
        })?;
        if run == 0 {
            continue; // warm-up
        }
        total += t.elapsed();
        for (name, d) in timings {
            let e = by_op.entry(name).or_default();
            e.0 += d;
            e.1 += 1;
        }
    }

    let mut rows: Vec<_> = by_op.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1 .0));
    let per_run = |d: Duration| d.as_secs_f64() / runs as f64;
    println!(
        "{}: {seconds} s window, {threads} thread(s), {runs} runs; plain run median {:.1} ms \
         (RTF {:.4}), timed run mean {:.1} ms",
        dir.display(),
        plain[plain.len() / 2].as_secs_f64() * 1e3,
        plain[plain.len() / 2].as_secs_f64() / seconds,
        per_run(total) * 1e3
    );
    println!("| op | nodes | ms per run | share |");
    println!("|---|---|---|---|");
    for (name, (d, n)) in rows {
        let ms = per_run(d) * 1e3;
        let share = 100.0 * d.as_secs_f64() / total.as_secs_f64();
        if share >= 0.5 {
            println!("| {name} | {} | {ms:.2} | {share:.1}% |", n / runs);
        }
    }
    Ok(())
}
