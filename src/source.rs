//! Audio sources behind one trait: the microphone ([`crate::capture::MicSource`]), file replay
//! ([`FileSource`]) and in-memory samples for tests ([`MemorySource`]). Every source writes mono
//! `f32` at its own rate into a [`RingWriter`]; from the ring on, all sources run the same code.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::decode::{decode_file, DecodeError};
use crate::ring::RingWriter;

/// Why a source could not start.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// No capture device at all.
    #[error(
        "no audio input device found (is a microphone connected and is ALSA/PulseAudio running?)"
    )]
    NoDevice,
    /// The requested device does not exist.
    #[error("no input device matches {0:?} (see `hark devices`)")]
    UnknownDevice(String),
    /// The device refused the stream.
    #[error("cannot open input device {device:?}: {reason}")]
    Device {
        /// Device name.
        device: String,
        /// The audio backend's reason.
        reason: String,
    },
    /// A file source could not decode its file.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Keeps a running source alive; stops it when dropped.
pub struct SourceHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    _keep: Option<Box<dyn std::any::Any>>,
}

impl SourceHandle {
    /// A handle for a source running on its own thread.
    pub fn thread(stop: Arc<AtomicBool>, thread: JoinHandle<()>) -> SourceHandle {
        SourceHandle {
            stop,
            thread: Some(thread),
            _keep: None,
        }
    }

    /// A handle that keeps an object (an audio stream) alive until stopped.
    pub fn keep(stop: Arc<AtomicBool>, object: Box<dyn std::any::Any>) -> SourceHandle {
        SourceHandle {
            stop,
            thread: None,
            _keep: Some(object),
        }
    }

    /// Stops the source and waits for its thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self._keep = None;
    }
}

impl Drop for SourceHandle {
    fn drop(&mut self) {
        self.halt();
    }
}

/// An audio source.
pub trait Source: Send {
    /// Sample rate of what the source writes.
    fn sample_rate(&self) -> u32;
    /// True when audio arrives in real time whether or not it is read (a microphone, a paced
    /// replay): the pipeline then drops the oldest audio when it falls behind. False for
    /// sources that wait for room in the ring (a replay at `--speed max`), which lose nothing.
    fn is_realtime(&self) -> bool {
        true
    }
    /// A short description for logs and the UI.
    fn describe(&self) -> String;
    /// Starts writing into `ring`; calls [`RingWriter::finish`] when it ends by itself or when
    /// `stop` is set.
    fn start(
        self: Box<Self>,
        ring: RingWriter,
        stop: Arc<AtomicBool>,
    ) -> Result<SourceHandle, SourceError>;
}

/// How fast a replay runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// `n` times real time (1.0 = real time): what does not fit in the ring is lost, as with a
    /// microphone.
    Speed(f64),
    /// As fast as the consumer reads: waits for room, loses nothing.
    Max,
}

/// Samples in memory, written in chunks (sizes cycle through `chunks`) at a pace.
pub struct MemorySource {
    samples: Vec<f32>,
    rate: u32,
    pace: Pace,
    chunks: Vec<usize>,
    name: String,
}

impl MemorySource {
    /// A source of `samples` at `rate`, written in 10 ms chunks.
    pub fn new(samples: Vec<f32>, rate: u32, pace: Pace) -> MemorySource {
        MemorySource {
            samples,
            rate,
            pace,
            chunks: vec![(rate as usize / 100).max(1)],
            name: "memory".into(),
        }
    }

    /// Writes chunks of these sizes, cycling (for tests of arbitrary chunking).
    pub fn with_chunks(mut self, chunks: Vec<usize>) -> MemorySource {
        if !chunks.is_empty() {
            self.chunks = chunks.into_iter().map(|c| c.max(1)).collect();
        }
        self
    }

    fn with_name(mut self, name: String) -> MemorySource {
        self.name = name;
        self
    }
}

impl Source for MemorySource {
    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn is_realtime(&self) -> bool {
        matches!(self.pace, Pace::Speed(_))
    }

    fn start(
        self: Box<Self>,
        mut ring: RingWriter,
        stop: Arc<AtomicBool>,
    ) -> Result<SourceHandle, SourceError> {
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("hark-source".into())
            .spawn(move || {
                let t0 = Instant::now();
                let mut pos = 0usize;
                let mut k = 0usize;
                while pos < self.samples.len() && !stop2.load(Ordering::Acquire) {
                    let n = self.chunks[k % self.chunks.len()].min(self.samples.len() - pos);
                    k += 1;
                    let chunk = &self.samples[pos..pos + n];
                    match self.pace {
                        Pace::Speed(speed) => {
                            // Write when the chunk's audio has "arrived" in real time.
                            let due = (pos + n) as f64 / self.rate as f64 / speed.max(1e-6);
                            let wait = due - t0.elapsed().as_secs_f64();
                            if wait > 0.0 {
                                std::thread::sleep(Duration::from_secs_f64(wait));
                            }
                            ring.write(chunk);
                        }
                        Pace::Max => {
                            let mut done = 0;
                            while done < n && !stop2.load(Ordering::Acquire) {
                                done += ring.write(&chunk[done..]);
                                if done < n {
                                    std::thread::sleep(Duration::from_millis(1));
                                }
                            }
                        }
                    }
                    pos += n;
                }
                ring.finish();
            })
            .expect("spawn source thread");
        Ok(SourceHandle::thread(stop, thread))
    }
}

/// Replays an audio file through the live pipeline.
pub struct FileSource {
    inner: MemorySource,
}

impl FileSource {
    /// Decodes the file (any supported format; mixed to mono, kept at its own rate).
    pub fn open(path: PathBuf, pace: Pace) -> Result<FileSource, SourceError> {
        let audio = decode_file(&path)?;
        let name = path.display().to_string();
        Ok(FileSource {
            inner: MemorySource::new(audio.samples, audio.sample_rate, pace).with_name(name),
        })
    }

    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.inner.samples.len() as f64 / self.inner.rate as f64
    }
}

impl Source for FileSource {
    fn sample_rate(&self) -> u32 {
        self.inner.rate
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn is_realtime(&self) -> bool {
        self.inner.is_realtime()
    }
    fn start(
        self: Box<Self>,
        ring: RingWriter,
        stop: Arc<AtomicBool>,
    ) -> Result<SourceHandle, SourceError> {
        Box::new(self.inner).start(ring, stop)
    }
}
