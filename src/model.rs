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

use tract_onnx::prelude::*;
use tract_onnx::tract_core::dims;
use tract_onnx::tract_core::internal::SimplePlan;
use tract_onnx::tract_hir::internal::Symbol;

use crate::manifest::{Manifest, ManifestError, OutputKind, OutputSpec};

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
    executor: Option<tract_linalg::multithread::Executor>,
}

/// Optimized plans by window length, oldest evicted first past [`PLAN_CACHE_CAPACITY`]
/// (each plan holds its own packed weights, so an unbounded cache would grow with every
/// distinct clip length).
#[derive(Default)]
struct PlanCache {
    plans: HashMap<usize, Arc<Plan>>,
    order: std::collections::VecDeque<usize>,
}

/// Plans kept per model. The live pipeline needs two or three lengths; offline runs over many
/// short clips of different lengths rebuild evicted ones.
pub const PLAN_CACHE_CAPACITY: usize = 12;

impl PlanCache {
    fn get(&self, samples: usize) -> Option<Arc<Plan>> {
        self.plans.get(&samples).cloned()
    }

    fn insert(&mut self, samples: usize, plan: Arc<Plan>) {
        if self.plans.insert(samples, plan).is_none() {
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
        let generic = model
            .into_typed()
            .and_then(|m| m.into_decluttered())
            .map_err(graph_err)?;

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
            executor: (threads > 1).then(|| {
                tract_linalg::multithread::Executor::multithread_with_name(threads, "hark-tract")
            }),
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

    /// The optimized plan for a window length: built on first use, then cached.
    pub fn plan(&self, samples: usize) -> Result<Arc<Plan>, ModelError> {
        let min = self.min_samples();
        if samples < min {
            return Err(ModelError::TooShort { samples, min });
        }
        if let Some(plan) = self.plans.lock().ok().and_then(|p| p.get(samples)) {
            return Ok(plan);
        }
        // tract asserts rather than errors on some degenerate graphs (a reduction over zero
        // frames, say): keep such a panic from taking the caller's thread down.
        let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let optimized = self.optimize_for(samples)?;
            let options = RunOptions {
                executor: self.executor.clone(),
                ..Default::default()
            };
            SimplePlan::new_with_options(optimized, &options).map_err(|e| ModelError::Run {
                samples,
                reason: chain(&e),
            })
        }));
        let plan = built.unwrap_or_else(|_| {
            Err(ModelError::Run {
                samples,
                reason: "tract panicked while optimizing the graph".into(),
            })
        })?;
        if let Ok(mut plans) = self.plans.lock() {
            plans.insert(samples, plan.clone());
        }
        Ok(plan)
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
        Ok(PlanReport {
            samples,
            nodes: optimized.nodes().len(),
            positional_ops: count(&optimized),
            positional_ops_generic: count(&self.generic),
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
        let plan = self.plan(samples)?;
        let run_err = |e: anyhow::Error| ModelError::Run {
            samples,
            reason: chain(&e),
        };
        let tensor = Tensor::from_shape(&[1, samples], input).map_err(run_err)?;
        let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            plan.run(tvec!(tensor.into()))
        }))
        .unwrap_or_else(|_| Err(anyhow::anyhow!("tract panicked while running the graph")))
        .map_err(run_err)?;
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
