//! The live pipeline: a source writes into the lock-free ring; the inference thread reads it,
//! resamples to the model rate, runs overlapping windows ([`Stitcher`]), turns the stitched
//! frames into caption events ([`Captioner`]) and sends them over a bounded crossbeam channel.
//!
//! ```text
//! source thread / cpal callback ──ring (SPSC, lock-free)──▶ inference thread ──events (bounded)──▶ front-end
//!   convert + downmix + push          overruns counted         resample, windows, captions        CLI / GUI / files
//! ```
//!
//! Overload: when the ring holds more than `max_lag_s` of audio, the inference thread drops the
//! oldest audio (a whole number of model frames), closes the open segment, reports the loss in
//! [`Stats`] and carries on from the newest audio. A slow consumer never stalls inference:
//! partials, labels and stats are dropped when the channel is full, finals (final words,
//! segments, errors) are queued.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use crate::caption::{Captioner, EndpointRules};
use crate::events::{Event, Stats};
use crate::resample::StreamResampler;
use crate::ring::{audio_ring, RingReader};
use crate::source::{Source, SourceError, SourceHandle};
use crate::stitch::{Block, Infer, Stitcher};
use crate::window::WindowConfig;

/// Live pipeline settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveConfig {
    /// Left context per window (s).
    pub left_s: f64,
    /// Centre (kept) part per window (s).
    pub centre_s: f64,
    /// Right look-ahead per window (s).
    pub right_s: f64,
    /// How often partial text is recomputed, in seconds of new audio (0 = never).
    pub partial_every_s: f64,
    /// Backlog (s) beyond which the oldest audio is dropped.
    pub max_lag_s: f64,
    /// Ring capacity (s of source audio).
    pub ring_s: f64,
    /// Endpointing rules.
    pub endpoint: EndpointRules,
    /// Event channel capacity.
    pub channel_capacity: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        // Chosen by measurement (BENCHMARKS.md, "Live pipeline with the interim demo model"): the
        // only setting that meets every latency goal, at the same CER as longer windows.
        LiveConfig {
            left_s: 1.0,
            centre_s: 0.4,
            right_s: 0.4,
            partial_every_s: 0.2,
            max_lag_s: 4.0,
            ring_s: 8.0,
            endpoint: EndpointRules::default(),
            channel_capacity: 256,
        }
    }
}

/// Why the pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The source failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The resampler could not be built.
    #[error(transparent)]
    Resample(#[from] crate::resample::ResampleError),
}

/// A running pipeline. Dropping it stops the source; [`Pipeline::stop`] asks for a clean stop
/// (everything already heard is finalized and sent, then [`Event::Finished`]).
pub struct Pipeline {
    events: Receiver<Event>,
    stop: Arc<AtomicBool>,
    source: Option<SourceHandle>,
    worker: Option<JoinHandle<()>>,
}

impl Pipeline {
    /// Starts `source` and the inference thread.
    pub fn start(
        model: Arc<dyn Infer>,
        source: Box<dyn Source>,
        cfg: LiveConfig,
    ) -> Result<Pipeline, PipelineError> {
        let rate = source.sample_rate();
        let realtime = source.is_realtime();
        let model_rate = model.bundle().manifest().sample_rate;
        let resampler = StreamResampler::new(rate, model_rate)?;
        let (writer, reader) = audio_ring((cfg.ring_s * rate as f64) as usize);
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = bounded(cfg.channel_capacity.max(1));
        let handle = source.start(writer, stop.clone())?;
        let stop2 = stop.clone();
        let worker = std::thread::Builder::new()
            .name("hark-inference".into())
            .spawn(move || {
                let mut w = Worker::new(model, cfg, reader, resampler, rate, tx, stop2);
                w.realtime = realtime;
                w.run();
            })
            .expect("spawn inference thread");
        Ok(Pipeline {
            events: rx,
            stop,
            source: Some(handle),
            worker: Some(worker),
        })
    }

    /// The event receiver.
    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    /// A flag that stops the pipeline cleanly when set (for signal handlers).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Asks for a clean stop; events keep coming until [`Event::Finished`].
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Waits for the inference thread to finish (after [`Event::Finished`] was sent).
    pub fn join(mut self) {
        if let Some(s) = self.source.take() {
            s.stop();
        }
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

struct Worker {
    cfg: LiveConfig,
    reader: RingReader,
    resampler: StreamResampler,
    source_rate: u32,
    model_rate: u32,
    hop: usize,
    stitcher: Stitcher,
    captioner: Captioner,
    tx: Sender<Event>,
    stop: Arc<AtomicBool>,
    finals: VecDeque<Event>,
    read_buf: Vec<f32>,
    resampled: Vec<f32>,
    blocks: Vec<Block>,
    pending: Vec<Event>,
    stats: Stats,
    since_partial: usize,
    since_stats: usize,
    window_compute: f64,
    window_audio: usize,
    dropped: u64,
    closed: bool,
    /// Shed load when behind (real-time sources only).
    realtime: bool,
    /// Audio was dropped since the last stats event.
    behind: bool,
}

impl Worker {
    fn new(
        model: Arc<dyn Infer>,
        cfg: LiveConfig,
        reader: RingReader,
        resampler: StreamResampler,
        source_rate: u32,
        tx: Sender<Event>,
        stop: Arc<AtomicBool>,
    ) -> Worker {
        let m = model.bundle().manifest();
        let frame_s = m.frame_hop() as f64 / m.sample_rate as f64;
        let wcfg = WindowConfig::from_seconds(cfg.left_s, cfg.centre_s, cfg.right_s, frame_s);
        let captioner = Captioner::new(m, cfg.endpoint);
        let model_rate = m.sample_rate;
        let hop = m.frame_hop();
        Worker {
            cfg,
            reader,
            resampler,
            source_rate,
            model_rate,
            hop,
            stitcher: Stitcher::new(model, wcfg),
            captioner,
            tx,
            stop,
            finals: VecDeque::new(),
            read_buf: vec![0.0; (source_rate as usize / 50).max(64)],
            resampled: Vec::with_capacity(model_rate as usize),
            blocks: Vec::new(),
            pending: Vec::new(),
            stats: Stats::default(),
            since_partial: 0,
            since_stats: 0,
            window_compute: 0.0,
            window_audio: 0,
            dropped: 0,
            closed: false,
            realtime: true,
            behind: false,
        }
    }

    fn send(&mut self) {
        // Events go out in the order they were made while the channel has room; finals that do
        // not fit wait in `finals` (and every later final behind them), the rest are dropped.
        for ev in self.pending.drain(..) {
            let must_deliver = matches!(
                ev,
                Event::Final(_) | Event::FinalWords { .. } | Event::Error { .. }
            );
            if must_deliver && !self.finals.is_empty() {
                self.finals.push_back(ev);
                continue;
            }
            match self.tx.try_send(ev) {
                Ok(()) => {}
                Err(TrySendError::Full(ev)) => {
                    if must_deliver {
                        self.finals.push_back(ev);
                    }
                }
                Err(TrySendError::Disconnected(_)) => self.closed = true,
            }
        }
        while let Some(ev) = self.finals.pop_front() {
            match self.tx.try_send(ev) {
                Ok(()) => {}
                Err(TrySendError::Full(ev)) => {
                    self.finals.push_front(ev);
                    break;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.closed = true;
                    break;
                }
            }
        }
    }

    fn absorb(&mut self) {
        for b in self.blocks.drain(..) {
            self.window_compute += b.compute_s;
            self.captioner.accept(&b, &mut self.pending);
        }
    }

    fn fail(&mut self, message: String) {
        self.pending.push(Event::Error { message });
        self.send();
        self.flush_blocking();
    }

    fn flush_blocking(&mut self) {
        while let Some(ev) = self.finals.pop_front() {
            if self.tx.send(ev).is_err() {
                return;
            }
        }
    }

    /// Drops the oldest audio while the backlog is over `max_lag_s`.
    fn shed_load(&mut self) -> Result<(), crate::model::ModelError> {
        let max = (self.cfg.max_lag_s * self.source_rate as f64) as usize;
        let backlog = self.reader.len();
        if !self.realtime || backlog <= max {
            return Ok(());
        }
        // Keep half the allowed lag; drop the rest in whole model frames.
        let keep = max / 2;
        let src_per_frame = self.hop as f64 * self.source_rate as f64 / self.model_rate as f64;
        let frames = ((backlog - keep) as f64 / src_per_frame).floor() as usize;
        let n = (frames as f64 * src_per_frame).round() as usize;
        let skipped = self.reader.skip(n);
        self.dropped += skipped as u64;
        self.behind = true;
        let model_samples = frames * self.hop;
        self.stitcher.skip(model_samples, &mut self.blocks)?;
        self.absorb();
        Ok(())
    }

    fn run(&mut self) {
        let partial_every = (self.cfg.partial_every_s * self.model_rate as f64) as usize;
        let quantum = ((0.5 * self.model_rate as f64) as usize / self.hop).max(1);
        loop {
            if self.closed {
                return;
            }
            if let Err(e) = self.shed_load() {
                return self.fail(e.to_string());
            }
            let n = self.reader.read(&mut self.read_buf);
            if n == 0 {
                let stopping = self.stop.load(Ordering::Acquire);
                if self.reader.drained() || (stopping && self.reader.is_empty()) {
                    break;
                }
                self.send();
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            let input = std::mem::take(&mut self.read_buf);
            let r = self.resampler.process(&input[..n], &mut self.resampled);
            self.read_buf = input;
            if let Err(e) = r {
                return self.fail(e.to_string());
            }
            let fresh = std::mem::take(&mut self.resampled);
            let pushed = self.stitcher.push(&fresh, &mut self.blocks);
            self.since_partial += fresh.len();
            self.since_stats += fresh.len();
            self.window_audio += fresh.len();
            self.resampled = fresh;
            self.resampled.clear();
            if let Err(e) = pushed {
                return self.fail(e.to_string());
            }
            self.absorb();
            // Partials only when caught up: they cost a model call each.
            let caught_up = self.reader.len() < self.read_buf.len();
            if partial_every > 0 && self.since_partial >= partial_every && caught_up {
                self.since_partial = 0;
                match self.stitcher.peek(quantum) {
                    Ok(Some(b)) => {
                        self.window_compute += b.compute_s;
                        self.captioner.partial(&b, &mut self.pending);
                    }
                    Ok(None) => {}
                    Err(e) => return self.fail(e.to_string()),
                }
            }
            if self.since_stats >= self.model_rate as usize {
                self.emit_stats();
            }
            self.send();
        }
        // End of stream or stop: finalize everything heard.
        if let Err(e) = self.stitcher.finish(&mut self.blocks) {
            return self.fail(e.to_string());
        }
        self.absorb();
        self.captioner.finish(&mut self.pending);
        self.emit_stats();
        self.pending.push(Event::Finished);
        // Move everything into the final queue so nothing is lost, then block until sent.
        let pending: Vec<Event> = self.pending.drain(..).collect();
        self.finals.extend(pending);
        self.flush_blocking();
    }

    fn emit_stats(&mut self) {
        let received = self.stitcher.received_samples() as f64 / self.model_rate as f64;
        let final_s = self.stitcher.next_frame() as f64 * self.captioner.frame_s();
        self.stats.audio_s = received;
        self.stats.rtf = if self.window_audio > 0 {
            self.window_compute / (self.window_audio as f64 / self.model_rate as f64)
        } else {
            0.0
        };
        self.stats.latency_s = (received - final_s).max(0.0);
        self.stats.ring_fill = self.reader.len() as f64 / self.reader.capacity() as f64;
        self.stats.dropped_s = self.dropped as f64 / self.source_rate as f64;
        self.stats.overruns = self.reader.shared().overruns.load(Ordering::Relaxed);
        self.stats.falling_behind = std::mem::take(&mut self.behind);
        self.pending.push(Event::Stats(self.stats));
        self.since_stats = 0;
        self.window_compute = 0.0;
        self.window_audio = 0;
    }
}
