//! Audio file decoding (the only module that uses symphonia): WAV, FLAC, OGG/Vorbis and MP3 to
//! mono `f32` at the file's own rate. Resampling is [`crate::resample`]'s job.

use std::fs::File;
use std::path::{Path, PathBuf};

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// Mono audio at some sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Mono samples, nominally in [-1, 1].
    pub samples: Vec<f32>,
    /// Sample rate in Hz.
    pub sample_rate: u32,
}

impl Audio {
    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }
}

/// Why a file could not be decoded. Every message starts with the file's path.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The file could not be opened.
    #[error("{path}: cannot open: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No decoder recognised the file's format.
    #[error("{path}: not a supported audio file (WAV, FLAC, OGG/Vorbis or MP3 expected)")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The container has no audio track hark can decode.
    #[error("{path}: no decodable audio track ({reason})")]
    NoTrack {
        /// The file.
        path: PathBuf,
        /// Details.
        reason: String,
    },
    /// The stream is damaged before any audio could be decoded.
    #[error("{path}: corrupt audio data: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Details.
        reason: String,
    },
    /// The file decodes to no samples at all.
    #[error("{path}: the file contains no audio samples")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// Decodes a whole file to mono (channels averaged).
///
/// A stream damaged after some audio decoded keeps what decoded (a warning is logged); one
/// damaged before any audio is an error.
pub fn decode_file(path: &Path) -> Result<Audio, DecodeError> {
    let file = File::open(path).map_err(|source| DecodeError::Open {
        path: path.to_owned(),
        source,
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(DecodeError::Open {
            path: path.to_owned(),
            source: std::io::Error::other("is a directory"),
        });
    }
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::IoError(ref io) if io.kind() != std::io::ErrorKind::UnexpectedEof => {
                DecodeError::Corrupt {
                    path: path.to_owned(),
                    reason: e.to_string(),
                }
            }
            _ => DecodeError::UnknownFormat {
                path: path.to_owned(),
            },
        })?;
    let no_track = |reason: &str| DecodeError::NoTrack {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| no_track("no audio track"))?;
    let track_id = track.id;
    // What the container says the track holds, to notice a file cut short (a copy or download that
    // stopped part way): its stream just ends early, which the decoder reads as a normal end.
    let declared_frames = track.num_frames;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| no_track("missing codec parameters"))?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| no_track(&e.to_string()))?;

    let mut mono: Vec<f32> = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    let mut rate = params.sample_rate.unwrap_or(0);
    let mut last_error: Option<String> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymError::IoError(ref io)) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(e) => {
                last_error = Some(e.to_string());
                break;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                let channels = buf.spec().channels().count().max(1);
                rate = buf.spec().rate();
                buf.copy_to_vec_interleaved(&mut interleaved);
                mono.reserve(interleaved.len() / channels);
                for frame in interleaved.chunks_exact(channels) {
                    mono.push(frame.iter().sum::<f32>() / channels as f32);
                }
            }
            Err(SymError::DecodeError(msg)) => {
                last_error = Some(format!("malformed stream: {msg}"));
            }
            Err(SymError::IoError(_)) => continue,
            Err(e) => {
                last_error = Some(e.to_string());
                break;
            }
        }
    }
    if mono.is_empty() {
        return Err(match last_error {
            Some(reason) => DecodeError::Corrupt {
                path: path.to_owned(),
                reason,
            },
            None => DecodeError::Empty {
                path: path.to_owned(),
            },
        });
    }
    if let Some(reason) = last_error {
        tracing::warn!(
            "{}: stream damaged after {:.2} s of audio ({reason}); keeping what decoded",
            path.display(),
            mono.len() as f64 / rate.max(1) as f64
        );
    } else if let Some(declared) =
        declared_frames.filter(|&d| ends_early(mono.len() as u64, d, rate))
    {
        tracing::warn!(
            "{}: the file ends early: {:.2} s of audio where its header declares {:.2} s (truncated?); \
             keeping what decoded",
            path.display(),
            mono.len() as f64 / rate.max(1) as f64,
            declared as f64 / rate.max(1) as f64
        );
    }
    if rate == 0 {
        return Err(no_track("unknown sample rate"));
    }
    Ok(Audio {
        samples: mono,
        sample_rate: rate,
    })
}

/// Whether `decoded` frames fall short of the `declared` count by more than 50 ms: a whole file
/// decodes to its declared length (MP3 a little more, as its encoder padding is kept).
fn ends_early(decoded: u64, declared: u64, rate: u32) -> bool {
    decoded + u64::from(rate / 20) < declared
}

#[cfg(test)]
mod tests {
    use super::ends_early;

    #[test]
    fn ends_early_allows_50_ms() {
        assert!(!ends_early(16000, 16000, 16000));
        assert!(!ends_early(16100, 16000, 16000));
        assert!(!ends_early(15200, 16000, 16000));
        assert!(ends_early(15199, 16000, 16000));
        assert!(ends_early(0, 16000, 16000));
    }
}
