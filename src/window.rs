//! Window sizes: left context, centre (kept) and right look-ahead, in model frames. The
//! windowing itself is [`crate::stitch::Stitcher`]'s.
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

#[cfg(test)]
mod tests {
    use super::*;

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
