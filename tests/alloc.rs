//! The capture callback path and the streaming resampler allocate nothing: counted with a
//! global allocator wrapper, per thread (tests run in parallel).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::Ordering;

use hark::capture::CaptureCallback;
use hark::ring::audio_ring;

struct Counting;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the thread-local may already be gone while a thread shuts down.
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
}

/// Allocations made so far by the calling thread.
fn allocations() -> usize {
    COUNT.with(|c| c.get())
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn capture_callback_does_not_allocate() {
    let (writer, mut reader) = audio_ring(48_000);
    let mut cb = CaptureCallback::new(writer, 2);
    let stereo_i16: Vec<i16> = (0..960).map(|i| ((i * 37) % 2000) as i16 - 1000).collect();
    let stereo_f32: Vec<f32> = (0..4096).map(|i| (i as f32 * 0.01).sin()).collect();
    let mut sink = vec![0f32; 48_000];
    // Warm up once (nothing should be lazily allocated, but be fair).
    cb.on_data(&stereo_i16);
    reader.read(&mut sink);

    let before = allocations();
    let mut written = 0;
    for _ in 0..200 {
        written += cb.on_data(&stereo_i16);
        written += cb.on_data(&stereo_f32);
        // The ring fills up: later calls hit the overrun path, which must not allocate either.
    }
    let after = allocations();
    assert_eq!(
        after - before,
        0,
        "the capture path allocated {} times",
        after - before
    );
    assert_eq!(written, 48_000, "ring capacity bounds what is written");
    // Downmix of stereo i16: average of the two channels.
    let n = reader.read(&mut sink[..4]);
    assert_eq!(n, 4);
    let want = (f32::from(stereo_i16[0]) + f32::from(stereo_i16[1])) / 2.0 / 32768.0;
    assert!((sink[0] - want).abs() < 1e-6, "{} vs {want}", sink[0]);
    assert!(reader.shared().overruns.load(Ordering::Relaxed) > 0);
}

#[test]
fn stream_resampler_is_allocation_free_in_steady_state() {
    let mut rs = hark::resample::StreamResampler::new(44_100, 16_000).unwrap();
    let input: Vec<f32> = (0..441).map(|i| (i as f32 * 0.0627).sin()).collect();
    let mut out = Vec::with_capacity(1 << 20);
    // Warm up: the first calls may fill rubato's internal state.
    for _ in 0..10 {
        rs.process(&input, &mut out).unwrap();
    }
    let before = allocations();
    for _ in 0..1000 {
        rs.process(&input, &mut out).unwrap();
    }
    let after = allocations();
    assert_eq!(
        after - before,
        0,
        "resampling allocated {} times",
        after - before
    );
    // 1010 calls x 10 ms of input = 10.1 s at 16 kHz, minus what the filter still holds.
    assert!(out.len() > 160_000 && out.len() <= 161_600, "{}", out.len());
}
