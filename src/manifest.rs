//! The model manifest `hark.json`: what the exporter knows about a graph that the graph itself
//! does not say (vocabulary, labels, frame geometry, normalization).
//!
//! The manifest is written by `tools/export.py` next to the ONNX file. [`Manifest::load`] parses
//! and checks it on its own; [`crate::model::ModelBundle`] then checks it against the graph.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The manifest format version this build of hark reads.
pub const FORMAT_VERSION: u32 = 1;

/// What an output tensor of the graph holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// CTC logits, `[1, frames, vocab]`.
    CtcLogits,
    /// Per-frame class logits, `[1, frames, labels]`.
    FrameLogits,
    /// One speaker embedding per input, `[1, dim]`.
    XvectorEmbeddings,
    /// Output of the x-vector head's `classifier` layer, `[1, xvector_dim]` (transformers calls
    /// it logits; the AMSoftmax weights that map it to speakers live in the training loss).
    XvectorLogits,
    /// Utterance-level class logits, `[1, labels]`.
    SequenceLogits,
}

impl OutputKind {
    /// True for outputs with one row per model frame.
    pub fn is_per_frame(self) -> bool {
        matches!(self, OutputKind::CtcLogits | OutputKind::FrameLogits)
    }
}

/// One graph output as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputSpec {
    /// Name of the output in the ONNX graph.
    pub name: String,
    /// What the output holds.
    pub kind: OutputKind,
    /// Size of the last axis (vocabulary size, label count or embedding dimension).
    pub dim: usize,
}

/// CTC vocabulary: token strings indexed by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocab {
    /// Token text for every id, in id order.
    pub tokens: Vec<String>,
    /// The CTC blank id (the tokenizer's pad token in transformers).
    pub blank_id: usize,
    /// The token that separates words (`|` in the English character vocabularies).
    pub word_delimiter: Option<String>,
}

/// Conformer positional embedding variants of `Wav2Vec2ConformerConfig.position_embeddings_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionEmbeddings {
    /// Rotary embeddings.
    Rotary,
    /// Transformer-XL style relative positions.
    Relative,
    /// No positional embedding in the attention layers (the convolutional one stays).
    None,
    /// A non-conformer model (Wav2Vec2, HuBERT, WavLM) with its own scheme.
    Other,
}

/// The parsed `hark.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version, see [`FORMAT_VERSION`].
    pub format_version: u32,
    /// transformers `model_type` of the source checkpoint, e.g. `wav2vec2-conformer`.
    pub model_type: String,
    /// transformers architecture class(es) the graph was exported from.
    pub architectures: Vec<String>,
    /// ONNX file, relative to the manifest's folder.
    pub onnx: String,
    /// Name of the waveform input (`[1, samples]`, f32).
    pub input_name: String,
    /// Graph outputs hark uses.
    pub outputs: Vec<OutputSpec>,
    /// Sample rate the model was trained on, in Hz.
    pub sample_rate: u32,
    /// Feature-encoder kernel sizes.
    pub conv_kernel: Vec<usize>,
    /// Feature-encoder strides.
    pub conv_stride: Vec<usize>,
    /// Whether the input waveform is normalized to zero mean and unit variance.
    pub do_normalize: bool,
    /// Position embedding type of the conformer blocks.
    pub position_embeddings_type: PositionEmbeddings,
    /// CTC vocabulary, present when a CTC output is.
    #[serde(default)]
    pub vocab: Option<Vocab>,
    /// Label names of the frame / sequence / x-vector classifier, in id order.
    #[serde(default)]
    pub id2label: Option<Vec<String>>,
    /// Dimension of x-vector embeddings, present when an x-vector output is.
    #[serde(default)]
    pub xvector_dim: Option<usize>,
    /// Mean x-vector embedding of the training speakers (`xvector_dim` values), subtracted
    /// before cosine scoring (see [`crate::speaker`]); absent for models exported without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xvector_mean: Option<Vec<f32>>,
    /// transformers version that produced the export.
    #[serde(default)]
    pub transformers_version: Option<String>,
    /// Shortest input (samples) every output is defined for (the x-vector head's TDNN and
    /// statistics pooling need several frames); shorter windows are zero-padded to it.
    #[serde(default)]
    pub min_samples: Option<usize>,
    /// The offline window this model transcribes best with (a model trained on short clips
    /// degrades on long windows); `hark transcribe` uses it unless told otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_window: Option<WindowHint>,
}

/// Window sizes in seconds: left context, kept centre, right look-ahead.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowHint {
    /// Left-context seconds.
    pub left_s: f64,
    /// Kept (centre) seconds.
    pub centre_s: f64,
    /// Right look-ahead seconds.
    pub right_s: f64,
}

/// Everything that can be wrong with a manifest on its own.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("{path}: cannot read manifest: {source}")]
    Read {
        /// The manifest path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid JSON for the schema.
    #[error("{path}: invalid manifest: {source}")]
    Parse {
        /// The manifest path.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The JSON parsed but its content is inconsistent.
    #[error("{path}: invalid manifest: {reason}")]
    Invalid {
        /// The manifest path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl Manifest {
    /// Reads and checks a manifest file.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_owned(),
            source,
        })?;
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|source| ManifestError::Parse {
                path: path.to_owned(),
                source,
            })?;
        manifest.check().map_err(|reason| ManifestError::Invalid {
            path: path.to_owned(),
            reason,
        })?;
        Ok(manifest)
    }

    /// Checks the manifest's internal consistency; returns the first problem found.
    pub fn check(&self) -> Result<(), String> {
        if self.format_version != FORMAT_VERSION {
            return Err(format!(
                "format_version is {}, this hark reads {}",
                self.format_version, FORMAT_VERSION
            ));
        }
        if self.sample_rate == 0 {
            return Err("sample_rate is 0".into());
        }
        if self.conv_kernel.is_empty() || self.conv_kernel.len() != self.conv_stride.len() {
            return Err(format!(
                "conv_kernel has {} entries and conv_stride {}; expected the same non-zero count",
                self.conv_kernel.len(),
                self.conv_stride.len()
            ));
        }
        if self.conv_kernel.contains(&0) || self.conv_stride.contains(&0) {
            return Err("conv_kernel and conv_stride entries must be positive".into());
        }
        if self.outputs.is_empty() {
            return Err("outputs is empty".into());
        }
        if let Some(w) = &self.offline_window {
            let ok = |v: f64| v.is_finite() && v >= 0.0;
            if !(ok(w.left_s) && ok(w.right_s) && ok(w.centre_s) && w.centre_s > 0.0) {
                return Err(format!(
                    "offline_window {{left_s: {}, centre_s: {}, right_s: {}}}: centre_s must be \
                     positive and the others zero or more",
                    w.left_s, w.centre_s, w.right_s
                ));
            }
        }
        if let Some(mean) = &self.xvector_mean {
            if Some(mean.len()) != self.xvector_dim {
                return Err(format!(
                    "xvector_mean has {} values but xvector_dim is {:?}",
                    mean.len(),
                    self.xvector_dim
                ));
            }
            if mean.iter().any(|v| !v.is_finite()) {
                return Err("xvector_mean has a value that is not a finite number".into());
            }
        }
        for out in &self.outputs {
            match out.kind {
                OutputKind::CtcLogits => {
                    let vocab = self.vocab.as_ref().ok_or_else(|| {
                        format!("output {:?} is ctc_logits but there is no vocab", out.name)
                    })?;
                    if vocab.tokens.len() != out.dim {
                        return Err(format!(
                            "vocab has {} tokens but output {:?} has {} logits",
                            vocab.tokens.len(),
                            out.name,
                            out.dim
                        ));
                    }
                    if vocab.blank_id >= vocab.tokens.len() {
                        return Err(format!(
                            "vocab blank_id {} is out of range (vocab size {})",
                            vocab.blank_id,
                            vocab.tokens.len()
                        ));
                    }
                }
                OutputKind::FrameLogits | OutputKind::SequenceLogits => {
                    let labels = self.id2label.as_ref().ok_or_else(|| {
                        format!(
                            "output {:?} is a classifier but there is no id2label",
                            out.name
                        )
                    })?;
                    if labels.len() != out.dim {
                        return Err(format!(
                            "id2label has {} labels but output {:?} has {} logits",
                            labels.len(),
                            out.name,
                            out.dim
                        ));
                    }
                }
                OutputKind::XvectorEmbeddings | OutputKind::XvectorLogits => {
                    if self.xvector_dim != Some(out.dim) {
                        return Err(format!(
                            "xvector_dim is {:?} but output {:?} has dimension {}",
                            self.xvector_dim, out.name, out.dim
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Samples between two consecutive model frames (320 at 16 kHz for the usual encoder).
    pub fn frame_hop(&self) -> usize {
        self.conv_stride.iter().product()
    }

    /// Samples seen by one model frame of the convolutional encoder (400 for the usual encoder).
    pub fn receptive_field(&self) -> usize {
        let mut field = 1;
        let mut jump = 1;
        for (k, s) in self.conv_kernel.iter().zip(&self.conv_stride) {
            field += (k - 1) * jump;
            jump *= s;
        }
        field
    }

    /// Samples a window of `frames` model frames (at least 1) spans: the last frame starts
    /// `(frames - 1)` hops in and sees one receptive field.
    pub fn samples_for_frames(&self, frames: usize) -> usize {
        (frames.max(1) - 1) * self.frame_hop() + self.receptive_field()
    }

    /// Number of model frames the encoder produces for `samples` input samples (0 if too short).
    pub fn frames_for(&self, samples: usize) -> usize {
        let mut len = samples;
        for (k, s) in self.conv_kernel.iter().zip(&self.conv_stride) {
            if len < *k {
                return 0;
            }
            len = (len - k) / s + 1;
        }
        len
    }

    /// The output of a given kind, if the graph has one.
    pub fn output(&self, kind: OutputKind) -> Option<&OutputSpec> {
        self.outputs.iter().find(|o| o.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usual() -> Manifest {
        Manifest {
            format_version: 1,
            model_type: "wav2vec2-conformer".into(),
            architectures: vec!["Wav2Vec2ConformerForCTC".into()],
            onnx: "model.onnx".into(),
            input_name: "input_values".into(),
            outputs: vec![OutputSpec {
                name: "logits".into(),
                kind: OutputKind::CtcLogits,
                dim: 3,
            }],
            sample_rate: 16000,
            conv_kernel: vec![10, 3, 3, 3, 3, 2, 2],
            conv_stride: vec![5, 2, 2, 2, 2, 2, 2],
            do_normalize: true,
            position_embeddings_type: PositionEmbeddings::Rotary,
            vocab: Some(Vocab {
                tokens: vec!["<pad>".into(), "|".into(), "A".into()],
                blank_id: 0,
                word_delimiter: Some("|".into()),
            }),
            id2label: None,
            xvector_dim: None,
            xvector_mean: None,
            transformers_version: None,
            min_samples: None,
            offline_window: None,
        }
    }

    #[test]
    fn offline_window_is_optional_and_checked() {
        let mut m = usual();
        let json = serde_json::to_string(&m).unwrap();
        assert!(!json.contains("offline_window"), "{json}");
        m.offline_window = Some(WindowHint {
            left_s: 1.0,
            centre_s: 0.0,
            right_s: 1.0,
        });
        assert_eq!(
            m.check().unwrap_err(),
            "offline_window {left_s: 1, centre_s: 0, right_s: 1}: centre_s must be positive and \
             the others zero or more"
        );
        m.offline_window = Some(WindowHint {
            left_s: 1.0,
            centre_s: 2.0,
            right_s: 1.0,
        });
        m.check().unwrap();
        let back: Manifest = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn xvector_mean_must_match_the_embedding_size() {
        let mut m = usual();
        m.outputs.push(OutputSpec {
            name: "embeddings".into(),
            kind: OutputKind::XvectorEmbeddings,
            dim: 2,
        });
        m.xvector_dim = Some(2);
        m.xvector_mean = Some(vec![0.5, -0.5]);
        m.check().unwrap();
        m.xvector_mean = Some(vec![0.5, -0.5, 1.0]);
        assert_eq!(
            m.check().unwrap_err(),
            "xvector_mean has 3 values but xvector_dim is Some(2)"
        );
        m.xvector_mean = Some(vec![0.5, f32::NAN]);
        assert_eq!(
            m.check().unwrap_err(),
            "xvector_mean has a value that is not a finite number"
        );
    }

    #[test]
    fn geometry_of_the_usual_encoder() {
        let m = usual();
        assert_eq!(m.frame_hop(), 320);
        assert_eq!(m.receptive_field(), 400);
        // transformers' _get_feat_extract_output_lengths for 1 s of audio.
        assert_eq!(m.frames_for(16000), 49);
        assert_eq!(m.frames_for(400), 1);
        assert_eq!(m.frames_for(399), 0);
        assert_eq!(m.frames_for(720), 2);
        assert_eq!(m.frames_for(719), 1);
    }

    #[test]
    fn vocab_size_must_match_logits() {
        let mut m = usual();
        m.outputs[0].dim = 4;
        assert_eq!(
            m.check().unwrap_err(),
            "vocab has 3 tokens but output \"logits\" has 4 logits"
        );
    }

    #[test]
    fn blank_must_be_in_vocab() {
        let mut m = usual();
        m.vocab.as_mut().unwrap().blank_id = 7;
        assert_eq!(
            m.check().unwrap_err(),
            "vocab blank_id 7 is out of range (vocab size 3)"
        );
    }

    #[test]
    fn ctc_needs_vocab() {
        let mut m = usual();
        m.vocab = None;
        assert_eq!(
            m.check().unwrap_err(),
            "output \"logits\" is ctc_logits but there is no vocab"
        );
    }

    #[test]
    fn kernel_and_stride_counts_must_agree() {
        let mut m = usual();
        m.conv_stride.pop();
        assert_eq!(
            m.check().unwrap_err(),
            "conv_kernel has 7 entries and conv_stride 6; expected the same non-zero count"
        );
    }

    #[test]
    fn wrong_version_is_refused() {
        let mut m = usual();
        m.format_version = 9;
        assert_eq!(
            m.check().unwrap_err(),
            "format_version is 9, this hark reads 1"
        );
    }

    #[test]
    fn load_reports_path_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hark.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = Manifest::load(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: invalid manifest: ", path.display())),
            "{err}"
        );
        let missing = dir.path().join("nope.json");
        let err = Manifest::load(&missing).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: cannot read manifest: ", missing.display())),
            "{err}"
        );
    }
}
