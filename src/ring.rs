//! The lock-free single-producer single-consumer audio ring between a source (the capture
//! callback, a file replayer) and the inference thread (the only module that uses ringbuf).
//!
//! The writer side is real-time safe: [`RingWriter::write`] never blocks, never allocates and
//! counts what did not fit in an atomic (`overruns`). The reader side may [`RingReader::skip`]
//! the oldest audio when inference falls behind.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

/// Counters shared by both ends.
#[derive(Debug, Default)]
pub struct RingShared {
    /// Samples the writer could not push because the ring was full.
    pub overruns: AtomicU64,
    /// Samples written so far.
    pub written: AtomicU64,
    /// Set by the source when it will write no more (end of file, device gone, stop).
    pub finished: AtomicBool,
}

/// Writer end (one per source).
pub struct RingWriter {
    prod: HeapProd<f32>,
    shared: Arc<RingShared>,
}

/// Reader end (the inference thread).
pub struct RingReader {
    cons: HeapCons<f32>,
    shared: Arc<RingShared>,
}

/// A ring of `capacity` mono samples.
pub fn audio_ring(capacity: usize) -> (RingWriter, RingReader) {
    let (prod, cons) = HeapRb::<f32>::new(capacity.max(1)).split();
    let shared = Arc::new(RingShared::default());
    (
        RingWriter {
            prod,
            shared: shared.clone(),
        },
        RingReader { cons, shared },
    )
}

impl RingWriter {
    /// Pushes what fits (real-time safe); counts the rest as overruns. Returns samples written.
    pub fn write(&mut self, samples: &[f32]) -> usize {
        let n = self.prod.push_slice(samples);
        if n < samples.len() {
            self.shared
                .overruns
                .fetch_add((samples.len() - n) as u64, Ordering::Relaxed);
        }
        self.shared.written.fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    /// Free space in samples.
    pub fn vacant(&self) -> usize {
        self.prod.vacant_len()
    }

    /// Marks the end of the stream.
    pub fn finish(&self) {
        self.shared.finished.store(true, Ordering::Release);
    }

    /// The shared counters.
    pub fn shared(&self) -> &Arc<RingShared> {
        &self.shared
    }
}

impl RingReader {
    /// Pops up to `out.len()` samples; returns how many.
    pub fn read(&mut self, out: &mut [f32]) -> usize {
        self.cons.pop_slice(out)
    }

    /// Drops up to `n` of the oldest samples; returns how many.
    pub fn skip(&mut self, n: usize) -> usize {
        self.cons.skip(n)
    }

    /// Samples waiting.
    pub fn len(&self) -> usize {
        self.cons.occupied_len()
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Capacity in samples.
    pub fn capacity(&self) -> usize {
        self.cons.capacity().get()
    }

    /// True once the source finished and everything it wrote was read.
    pub fn drained(&self) -> bool {
        self.shared.finished.load(Ordering::Acquire) && self.cons.is_empty()
    }

    /// The shared counters.
    pub fn shared(&self) -> &Arc<RingShared> {
        &self.shared
    }
}
