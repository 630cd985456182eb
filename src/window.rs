//! Window layout: how a long stream of model frames is cut into overlapping windows (left
//! context, centre, right look-ahead), and which frames of each window are kept.
//!
//! Units: a *frame* is one model output step (`hop` samples, 20 ms at 16 kHz); frame `f` is
//! computed from samples `[f * hop, f * hop + receptive_field)`. Windows start on frame
//! boundaries, so frame `j` of a window starting at frame `a` is exactly absolute frame `a + j`
//! of a full-context run, and stitching is a matter of keeping the right index range.

/// Window sizes in model frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowConfig {
    /// Left-context frames (computed, then discarded).
    pub left: usize,
    /// Centre frames (kept).
    pub centre: usize,
    /// Right look-ahead frames (computed, then discarded).
    pub right: usize,
}

impl WindowConfig {
    /// Builds a config from seconds, at `frame_s` seconds per frame.
    pub fn from_seconds(left_s: f64, centre_s: f64, right_s: f64, frame_s: f64) -> WindowConfig {
        let f = |s: f64| (s / frame_s).round().max(0.0) as usize;
        WindowConfig {
            left: f(left_s),
            centre: f(centre_s).max(1),
            right: f(right_s),
        }
    }

    /// Frames in a full window.
    pub fn total(&self) -> usize {
        self.left + self.centre + self.right
    }
}

/// One window of the offline layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First frame computed (absolute).
    pub first: usize,
    /// Frames computed.
    pub frames: usize,
    /// First frame kept (absolute).
    pub keep_from: usize,
    /// One past the last frame kept (absolute).
    pub keep_to: usize,
}

impl Window {
    /// First input sample of the window.
    pub fn start_sample(&self, hop: usize) -> usize {
        self.first * hop
    }

    /// Input samples of the window: enough for exactly `frames` frames.
    pub fn samples(&self, hop: usize, receptive_field: usize) -> usize {
        (self.frames - 1) * hop + receptive_field
    }
}

/// Lays windows over a stream of `total_frames` frames. Every window has `cfg.total()` frames
/// (so one optimized plan serves them all) except when the whole stream is shorter, in which case
/// one window covers it. Windows near the edges slide inwards and so get more context than asked
/// for, never less. Kept ranges tile `[0, total_frames)` exactly, in order.
pub fn layout(total_frames: usize, cfg: WindowConfig) -> Vec<Window> {
    if total_frames == 0 {
        return Vec::new();
    }
    let width = cfg.total();
    if total_frames <= width {
        return vec![Window {
            first: 0,
            frames: total_frames,
            keep_from: 0,
            keep_to: total_frames,
        }];
    }
    let mut windows = Vec::new();
    let mut keep_from = 0;
    while keep_from < total_frames {
        let keep_to = (keep_from + cfg.centre).min(total_frames);
        let first = keep_from.saturating_sub(cfg.left).min(total_frames - width);
        windows.push(Window {
            first,
            frames: width,
            keep_from,
            keep_to,
        });
        keep_from = keep_to;
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_ranges_tile_the_stream() {
        let cfg = WindowConfig {
            left: 3,
            centre: 5,
            right: 2,
        };
        for total in 1..60 {
            let ws = layout(total, cfg);
            let mut next = 0;
            for w in &ws {
                assert_eq!(w.keep_from, next);
                assert!(w.keep_to > w.keep_from);
                assert!(w.first <= w.keep_from && w.keep_to <= w.first + w.frames);
                assert!(w.first + w.frames <= total);
                if total > cfg.total() {
                    assert_eq!(w.frames, cfg.total());
                    // At least the asked-for context, unless clipped by the stream's edges.
                    assert!(w.keep_from - w.first >= cfg.left.min(w.keep_from));
                    let right_room = total - w.keep_to;
                    assert!(w.first + w.frames - w.keep_to >= cfg.right.min(right_room));
                }
                next = w.keep_to;
            }
            assert_eq!(next, total);
        }
    }

    #[test]
    fn window_samples_cover_exactly_its_frames() {
        let w = Window {
            first: 10,
            frames: 50,
            keep_from: 12,
            keep_to: 40,
        };
        assert_eq!(w.start_sample(320), 3200);
        assert_eq!(w.samples(320, 400), 49 * 320 + 400);
    }

    #[test]
    fn seconds_round_to_frames() {
        let c = WindowConfig::from_seconds(1.0, 8.0, 0.5, 0.02);
        assert_eq!(
            c,
            WindowConfig {
                left: 50,
                centre: 400,
                right: 25
            }
        );
    }
}
