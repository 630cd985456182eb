//! The model bundle (the only module that talks to tract): loads `hark.json` and its ONNX graph,
//! checks them against each other, and runs windows of samples through plans optimized for
//! concrete window lengths.
//!
//! tract-onnx (rather than the `tract` facade) is used because hark needs the typed-model level:
//! it substitutes the sample-count symbol with each window length before optimizing, so that
//! the positional-embedding sub-graph (range, sin, cos) folds to a constant once per length, and
//! it inspects the optimized graph to verify that it did ([`ModelBundle::plan_report`]). The
//! facade hides those types, and its default features pull GPU runtimes hark does not use.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tract_linalg::multithread::Executor;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::dims;
use tract_onnx::tract_core::internal::SimplePlan;
use tract_onnx::tract_hir::internal::Symbol;

use crate::manifest::{Manifest, ManifestError, OutputKind, OutputSpec};

pub mod gelu;

/// Errors of loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The manifest is missing or invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The ONNX file named by the manifest does not exist.
    #[error("{path}: model graph not found (named by {manifest})")]
    MissingGraph {
        /// Expected graph path.
        path: PathBuf,
        /// The manifest naming it.
        manifest: PathBuf,
    },
    /// tract could not read or type the graph.
    #[error("{path}: cannot load ONNX graph: {reason}")]
    Graph {
        /// The graph.
        path: PathBuf,
        /// tract's error chain.
        reason: String,
    },
    /// The manifest and the graph disagree.
    #[error("{path}: manifest does not match the graph: {reason}")]
    Mismatch {
        /// The manifest.
        path: PathBuf,
        /// What disagrees.
        reason: String,
    },
    /// The input is shorter than one model frame.
    #[error("input of {samples} samples is shorter than one model frame ({min} samples)")]
    TooShort {
        /// Samples given.
        samples: usize,
        /// Receptive field of one frame.
        min: usize,
    },
    /// tract failed while optimizing or running.
    #[error("inference failed for a {samples}-sample window: {reason}")]
    Run {
        /// Window length.
        samples: usize,
        /// tract's error chain.
        reason: String,
    },
}

/// One output tensor of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// What it holds.
    pub kind: OutputKind,
    /// Shape without the batch axis: `[frames, dim]` or `[dim]`.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// The outputs of one run, in manifest order.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOutput {
    /// All outputs the manifest lists.
    pub outputs: Vec<Output>,
}

impl ModelOutput {
    /// The output of a kind.
    pub fn get(&self, kind: OutputKind) -> Option<&Output> {
        self.outputs.iter().find(|o| o.kind == kind)
    }

    /// Number of model frames (from the first per-frame output), if any.
    pub fn frames(&self) -> Option<usize> {
        self.outputs
            .iter()
            .find(|o| o.kind.is_per_frame())
            .map(|o| o.shape[0])
    }
}

/// What optimizing the graph for one window length did, for checking and benchmarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanReport {
    /// Window length in samples.
    pub samples: usize,
    /// Nodes in the optimized plan.
    pub nodes: usize,
    /// Range / Sin / Cos nodes left in the optimized plan (0 when the positional embeddings
    /// folded to constants).
    pub positional_ops: usize,
    /// Range / Sin / Cos nodes in the length-generic graph.
    pub positional_ops_generic: usize,
    /// Exact-GELU nodes in the optimized plan that run hark's kernel (see [`gelu`]).
    pub gelu_ops_hark: usize,
    /// Exact-GELU nodes in the optimized plan that still run tract's approximate one (0 for
    /// f32 graphs).
    pub gelu_ops_tract: usize,
}

type Plan = TypedSimplePlan;

/// A loaded model: manifest, length-generic typed graph, and a cache of optimized plans (one per
/// window length). Share it behind an `Arc`; runs take `&self`.
pub struct ModelBundle {
    manifest: Manifest,
    manifest_path: PathBuf,
    generic: TypedModel,
    samples: Symbol,
    plans: Mutex<PlanCache>,
    threads: usize,
    /// One thread pool for all plans of this model (None: single-threaded).
    executor: Option<Executor>,
}

/// Optimized plans by window length, oldest evicted first past [`PLAN_CACHE_CAPACITY`]
/// (each length's plans hold their own packed weights, so an unbounded cache would grow with
/// every distinct clip length).
#[derive(Default)]
struct PlanCache {
    plans: HashMap<usize, Entry>,
    order: std::collections::VecDeque<usize>,
}

/// The plans of one window length.
///
/// A multi-threaded bundle builds two plans per length from one optimized graph: one that runs
/// matrix products on the calling thread and one that spreads them over the pool. Threads pay
/// off only for large products: on the 144-wide demo model a 1.8 s window runs faster on one
/// thread, a 10 s window faster on two (BENCHMARKS.md, "Threads per window length"). The answer
/// depends on the model, the length and the machine, so it is measured on the real runs: while
/// the `trial` lasts, runs of that length alternate between the two plans and time themselves;
/// after one untimed warm-up and [`TRIAL_RUNS`] timed runs each, the faster plan stays. Both
/// give bit-identical outputs (tract splits products on row boundaries only), so the choice
/// changes speed, never results.
struct Entry {
    /// The plan runs use once the trial is over (during it: the pool plan).
    plan: Arc<Plan>,
    /// Threads `plan` uses.
    threads: usize,
    trial: Option<Box<Trial>>,
}

/// A running comparison of the single-threaded (index 0) and the pool plan (index 1).
struct Trial {
    plans: [Arc<Plan>; 2],
    runs: [usize; 2],
    best_s: [f64; 2],
    next: usize,
}

/// Timed runs per plan in a trial (after one untimed warm-up each).
pub const TRIAL_RUNS: usize = 2;

/// The pool plan is kept only when its fastest run beats one thread's by this factor (ties go
/// to one thread, which leaves the other cores to the rest of the application).
const TRIAL_MIN_GAIN: f64 = 0.95;

/// Plans kept per model. The live pipeline needs two or three lengths; offline runs over many
/// short clips of different lengths rebuild evicted ones.
pub const PLAN_CACHE_CAPACITY: usize = 12;

impl PlanCache {
    /// The plan for the next run of a length and, during a trial, which of its two it is.
    fn checkout(&mut self, samples: usize) -> Option<(Arc<Plan>, Option<usize>)> {
        let entry = self.plans.get_mut(&samples)?;
        Some(match entry.trial.as_mut() {
            Some(t) => {
                let v = t.next;
                t.next ^= 1;
                (t.plans[v].clone(), Some(v))
            }
            None => (entry.plan.clone(), None),
        })
    }

    /// Records a trial run's time; ends the trial once both plans have had their runs.
    fn record(&mut self, samples: usize, variant: usize, secs: f64, pool_threads: usize) {
        let Some(entry) = self.plans.get_mut(&samples) else {
            return;
        };
        let Some(t) = entry.trial.as_mut() else {
            return;
        };
        t.runs[variant] += 1;
        if t.runs[variant] > 1 {
            t.best_s[variant] = t.best_s[variant].min(secs);
        }
        if t.runs.iter().all(|&r| r > TRIAL_RUNS) {
            let pool = t.best_s[1] < t.best_s[0] * TRIAL_MIN_GAIN;
            tracing::debug!(
                "{samples}-sample windows: fastest run {:.1} ms on 1 thread, {:.1} ms on {pool_threads}; \
                 keeping {}",
                t.best_s[0] * 1e3,
                t.best_s[1] * 1e3,
                if pool { "the pool" } else { "1 thread" }
            );
            entry.plan = t.plans[usize::from(pool)].clone();
            entry.threads = if pool { pool_threads } else { 1 };
            entry.trial = None;
        }
    }

    fn insert(&mut self, samples: usize, entry: Entry) {
        if self.plans.insert(samples, entry).is_none() {
            self.order.push_back(samples);
        }
        while self.order.len() > PLAN_CACHE_CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.plans.remove(&old);
            }
        }
    }
}

impl std::fmt::Debug for ModelBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelBundle")
            .field("manifest", &self.manifest_path)
            .field("threads", &self.threads)
            .finish()
    }
}

fn chain(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

fn is_positional_op(name: &str) -> bool {
    matches!(name, "Range" | "Sin" | "Cos")
}

impl ModelBundle {
    /// Loads a bundle from a folder holding `hark.json`, or from the manifest file itself.
    /// Uses all available cores (at most 4) for matrix products.
    pub fn load(path: &Path) -> Result<ModelBundle, ModelError> {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(4);
        Self::load_with_threads(path, threads)
    }

    /// Like [`ModelBundle::load`] with an explicit thread count for tract (1 = single-threaded).
    pub fn load_with_threads(path: &Path, threads: usize) -> Result<ModelBundle, ModelError> {
        let manifest_path = if path.extension().is_some_and(|e| e == "json") && !path.is_dir() {
            path.to_owned()
        } else {
            path.join("hark.json")
        };
        let manifest = Manifest::load(&manifest_path)?;
        let dir = manifest_path.parent().unwrap_or(Path::new("."));
        let graph_path = dir.join(&manifest.onnx);
        if !graph_path.is_file() {
            return Err(ModelError::MissingGraph {
                path: graph_path,
                manifest: manifest_path,
            });
        }
        let graph_err = |e: anyhow::Error| ModelError::Graph {
            path: graph_path.clone(),
            reason: chain(&e),
        };
        let mismatch = |reason: String| ModelError::Mismatch {
            path: manifest_path.clone(),
            reason,
        };

        let mut model = tract_onnx::onnx()
            .model_for_path(&graph_path)
            .map_err(graph_err)?;

        // Inputs: exactly one, named as the manifest says.
        let inputs = model.input_outlets().map_err(graph_err)?.to_vec();
        if inputs.len() != 1 {
            return Err(mismatch(format!(
                "the graph has {} inputs, hark expects one ({:?})",
                inputs.len(),
                manifest.input_name
            )));
        }
        let input_name = model.node(inputs[0].node).name.clone();
        if input_name != manifest.input_name {
            return Err(mismatch(format!(
                "the graph's input is {:?}, the manifest says {:?}",
                input_name, manifest.input_name
            )));
        }

        // Outputs: every manifest output must exist; keep just those, in manifest order.
        let mut outlets = Vec::new();
        for spec in &manifest.outputs {
            let outlet = model
                .output_outlets()
                .map_err(graph_err)?
                .iter()
                .copied()
                .find(|o| model.outlet_label(*o) == Some(spec.name.as_str()))
                .ok_or_else(|| {
                    let names: Vec<String> = model
                        .output_outlets()
                        .map(|os| {
                            os.iter()
                                .map(|o| model.outlet_label(*o).unwrap_or("?").to_string())
                                .collect()
                        })
                        .unwrap_or_default();
                    mismatch(format!(
                        "output {:?} is not in the graph (its outputs: {})",
                        spec.name,
                        names.join(", ")
                    ))
                })?;
            outlets.push(outlet);
        }
        model.select_output_outlets(&outlets).map_err(graph_err)?;

        let samples = model.symbols.sym("S");
        model
            .set_input_fact(0, f32::fact(dims![1, samples.clone()]).into())
            .map_err(graph_err)?;
        let mut generic = model
            .into_typed()
            .and_then(|m| m.into_decluttered())
            .map_err(graph_err)?;
        // tract's GELU is off by up to 1.2e-6, enough to move logits by 1e-4: see gelu.rs.
        gelu::replace_approximate_gelu(&mut generic).map_err(graph_err)?;

        // The last axis of each output is fixed by the weights: check it against the manifest.
        for (ix, spec) in manifest.outputs.iter().enumerate() {
            let fact = generic.output_fact(ix).map_err(graph_err)?;
            check_output_fact(spec, fact).map_err(&mismatch)?;
        }

        Ok(ModelBundle {
            manifest,
            manifest_path,
            generic,
            samples,
            plans: Mutex::new(PlanCache::default()),
            threads: threads.max(1),
            executor: (threads > 1).then(|| Executor::multithread_with_name(threads, "hark-tract")),
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Path of the manifest this bundle was loaded from.
    pub fn manifest_path(&self) -> &Path {
        &self.manifest_path
    }

    /// Threads tract uses for matrix products.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Window lengths (samples) that already have an optimized plan.
    pub fn cached_lengths(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .plans
            .lock()
            .map(|p| p.plans.keys().copied().collect())
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    fn optimize_for(&self, samples: usize) -> Result<TypedModel, ModelError> {
        let run_err = |e: anyhow::Error| ModelError::Run {
            samples,
            reason: chain(&e),
        };
        let mut subs = HashMap::new();
        subs.insert(self.samples.clone(), TDim::Val(samples as i64));
        self.generic
            .set_symbols(&subs)
            .and_then(|m| m.into_optimized())
            .map_err(run_err)
    }

    /// Shortest window the graph runs on as it is; shorter ones (down to one frame) are
    /// zero-padded to this length by [`ModelBundle::run`].
    pub fn min_samples(&self) -> usize {
        self.manifest
            .receptive_field()
            .max(self.manifest.min_samples.unwrap_or(0))
    }

    /// The optimized plan for a window length: built on first use, then cached. While the
    /// length's thread trial lasts (see [`ModelBundle::threads_for`]) this is the pool plan.
    pub fn plan(&self, samples: usize) -> Result<Arc<Plan>, ModelError> {
        if let Some(plan) = self
            .plans
            .lock()
            .ok()
            .and_then(|p| p.plans.get(&samples).map(|e| e.plan.clone()))
        {
            return Ok(plan);
        }
        self.build_and_cache(samples)
    }

    /// Threads the runs of a window length use: `None` before its plan is built and while the
    /// trial between one thread and the pool is still running (the first
    /// `2 * (1 + TRIAL_RUNS)` runs of that length), then 1 or [`ModelBundle::threads`].
    pub fn threads_for(&self, samples: usize) -> Option<usize> {
        let plans = self.plans.lock().ok()?;
        let entry = plans.plans.get(&samples)?;
        entry.trial.is_none().then_some(entry.threads)
    }

    /// The plan for the next run of a length (built on first use) and, during its trial,
    /// which of the two plans it is.
    fn checkout(&self, samples: usize) -> Result<(Arc<Plan>, Option<usize>), ModelError> {
        if let Some(found) = self.plans.lock().ok().and_then(|mut p| p.checkout(samples)) {
            return Ok(found);
        }
        let plan = self.build_and_cache(samples)?;
        Ok(self
            .plans
            .lock()
            .ok()
            .and_then(|mut p| p.checkout(samples))
            .unwrap_or((plan, None)))
    }

    /// Builds a length's plans and caches them; returns the entry's plan.
    fn build_and_cache(&self, samples: usize) -> Result<Arc<Plan>, ModelError> {
        let entry = self.build_entry(samples)?;
        let plan = entry.plan.clone();
        if let Ok(mut plans) = self.plans.lock() {
            plans.insert(samples, entry);
        }
        Ok(plan)
    }

    /// Optimizes the graph for a length and builds its plan(s): one single-threaded plan, or
    /// for a multi-threaded bundle a single-threaded and a pool plan sharing the optimized
    /// graph, with a trial between them (see [`Entry`]).
    fn build_entry(&self, samples: usize) -> Result<Entry, ModelError> {
        let min = self.min_samples();
        if samples < min {
            return Err(ModelError::TooShort { samples, min });
        }
        let run_err = |e: anyhow::Error| ModelError::Run {
            samples,
            reason: chain(&e),
        };
        let with = |graph: &Arc<TypedModel>, executor: Executor| {
            let options = RunOptions {
                executor: Some(executor),
                ..Default::default()
            };
            SimplePlan::new_with_options(graph.clone(), &options).map_err(run_err)
        };
        // tract asserts rather than errors on some degenerate graphs (a reduction over zero
        // frames, say): keep such a panic from taking the caller's thread down.
        let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let optimized = Arc::new(self.optimize_for(samples)?);
            let single = with(&optimized, Executor::SingleThread)?;
            Ok(match &self.executor {
                None => Entry {
                    plan: single,
                    threads: 1,
                    trial: None,
                },
                Some(pool) => {
                    let pool = with(&optimized, pool.clone())?;
                    Entry {
                        plan: pool.clone(),
                        threads: self.threads,
                        trial: Some(Box::new(Trial {
                            plans: [single, pool],
                            runs: [0; 2],
                            best_s: [f64::INFINITY; 2],
                            // The first run is on the pool, as every run was before trials: a
                            // length run only once (one clip, a whole file) runs as it used to.
                            next: 1,
                        })),
                    }
                }
            })
        }));
        built.unwrap_or_else(|_| {
            Err(ModelError::Run {
                samples,
                reason: "tract panicked while optimizing the graph".into(),
            })
        })
    }

    /// Optimizes for a length (without caching) and reports what folded.
    pub fn plan_report(&self, samples: usize) -> Result<PlanReport, ModelError> {
        let optimized = self.optimize_for(samples)?;
        let count = |m: &TypedModel| {
            m.nodes()
                .iter()
                .filter(|n| is_positional_op(&n.op().name()))
                .count()
        };
        let named = |name: &str| {
            optimized
                .nodes()
                .iter()
                .filter(|n| n.op().name() == name)
                .count()
        };
        Ok(PlanReport {
            samples,
            nodes: optimized.nodes().len(),
            positional_ops: count(&optimized),
            positional_ops_generic: count(&self.generic),
            gelu_ops_hark: named(gelu::HARK_GELU),
            gelu_ops_tract: named("GeluExact"),
        })
    }

    /// Runs one window of model-rate samples. The input must already be normalized when the
    /// manifest says `do_normalize` (see [`crate::features::normalize`]).
    pub fn run(&self, input: &[f32]) -> Result<ModelOutput, ModelError> {
        let field = self.manifest.receptive_field();
        if input.len() < field {
            return Err(ModelError::TooShort {
                samples: input.len(),
                min: field,
            });
        }
        let min = self.min_samples();
        if input.len() < min {
            // Zero-pad to the graph's minimum, then keep only the real frames.
            let frames = self.manifest.frames_for(input.len());
            let mut padded = input.to_vec();
            padded.resize(min, 0.0);
            let mut out = self.run(&padded)?;
            for o in out.outputs.iter_mut().filter(|o| o.kind.is_per_frame()) {
                let d = o.shape[1];
                o.data.truncate(frames * d);
                o.shape[0] = frames;
            }
            return Ok(out);
        }
        let samples = input.len();
        let (plan, trial) = self.checkout(samples)?;
        let run_err = |e: anyhow::Error| ModelError::Run {
            samples,
            reason: chain(&e),
        };
        let tensor = Tensor::from_shape(&[1, samples], input).map_err(run_err)?;
        let started = Instant::now();
        let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            plan.run(tvec!(tensor.into()))
        }))
        .unwrap_or_else(|_| Err(anyhow::anyhow!("tract panicked while running the graph")))
        .map_err(run_err)?;
        if let Some(variant) = trial {
            let secs = started.elapsed().as_secs_f64();
            if let Ok(mut plans) = self.plans.lock() {
                plans.record(samples, variant, secs, self.threads);
            }
        }
        let mut outputs = Vec::with_capacity(results.len());
        for (spec, value) in self.manifest.outputs.iter().zip(results.iter()) {
            let view = value.to_plain_array_view::<f32>().map_err(run_err)?;
            let shape = view.shape()[1..].to_vec();
            outputs.push(Output {
                kind: spec.kind,
                shape,
                data: view.iter().copied().collect(),
            });
        }
        Ok(ModelOutput { outputs })
    }
}

fn check_output_fact(spec: &OutputSpec, fact: &TypedFact) -> Result<(), String> {
    let rank = fact.rank();
    let expected_rank = if spec.kind.is_per_frame() { 3 } else { 2 };
    if rank != expected_rank {
        return Err(format!(
            "output {:?} ({:?}) has rank {rank}, expected {expected_rank}",
            spec.name, spec.kind
        ));
    }
    let last = &fact.shape[rank - 1];
    match last.to_i64() {
        Ok(d) if d as usize == spec.dim => Ok(()),
        Ok(d) => Err(format!(
            "output {:?} has {d} values per row in the graph, the manifest says {}",
            spec.name, spec.dim
        )),
        Err(_) => Err(format!(
            "output {:?} has a symbolic last axis ({last}), expected {}",
            spec.name, spec.dim
        )),
    }
}
