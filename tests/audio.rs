//! Decoding every supported format at several rates, and resampling to 16 kHz keeping a sine's
//! frequency and the clip's duration.

use std::path::{Path, PathBuf};

use hark::decode::decode_file;
use hark::resample::resample_all;

fn audio(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

/// Frequency estimate from the spacing of upward zero crossings (interpolated).
fn frequency(x: &[f32], rate: u32) -> f64 {
    // The middle half only: codecs and filters ramp at the edges.
    let x = &x[x.len() / 4..x.len() * 3 / 4];
    let mut crossings = Vec::new();
    for i in 1..x.len() {
        if x[i - 1] < 0.0 && x[i] >= 0.0 {
            let frac = -x[i - 1] as f64 / (x[i] - x[i - 1]) as f64;
            crossings.push(i as f64 - 1.0 + frac);
        }
    }
    let c = &crossings[..];
    let periods = (c[c.len() - 1] - c[0]) / (c.len() - 1) as f64;
    rate as f64 / periods
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

fn check(name: &str, rate: u32) {
    let a = decode_file(&audio(name)).unwrap();
    assert_eq!(a.sample_rate, rate, "{name}");
    // 0.5 s clips; MP3 adds encoder delay and padding (about 75 ms here, not trimmed).
    let dur = a.duration_s();
    assert!((0.49..0.6).contains(&dur), "{name}: duration {dur}");
    let f = frequency(&a.samples, a.sample_rate);
    assert!((f - 440.0).abs() < 2.0, "{name}: decoded frequency {f}");
    // sox wrote the sine at half scale: RMS 0.5/sqrt(2).
    let level = rms(&a.samples[a.samples.len() / 4..a.samples.len() * 3 / 4]);
    assert!((level - 0.3536).abs() < 0.02, "{name}: rms {level}");

    let r = resample_all(a.clone(), 16000).unwrap();
    assert_eq!(r.sample_rate, 16000);
    let expected = (a.samples.len() as f64 * 16000.0 / rate as f64).round() as i64;
    assert!(
        (r.samples.len() as i64 - expected).abs() <= 1,
        "{name}: {} vs {expected}",
        r.samples.len()
    );
    let f = frequency(&r.samples, 16000);
    assert!((f - 440.0).abs() < 2.0, "{name}: resampled frequency {f}");
    let level = rms(&r.samples[r.samples.len() / 4..r.samples.len() * 3 / 4]);
    assert!(
        (level - 0.3536).abs() < 0.02,
        "{name}: resampled rms {level}"
    );
}

#[test]
fn wav_16bit_8k() {
    check("sine440-8000Hz-mono.wav", 8000);
}

#[test]
fn wav_float_16k_is_not_resampled() {
    check("sine440-16000Hz-mono-f32.wav", 16000);
    let a = decode_file(&audio("sine440-16000Hz-mono-f32.wav")).unwrap();
    let r = resample_all(a.clone(), 16000).unwrap();
    assert_eq!(a, r);
}

#[test]
fn flac_stereo_44k1_is_mixed_to_mono() {
    check("sine440-44100Hz-stereo.flac", 44100);
}

#[test]
fn ogg_vorbis_48k() {
    check("sine440-48000Hz-mono.ogg", 48000);
}

#[test]
fn mp3_22k05() {
    check("sine440-22050Hz-mono.mp3", 22050);
}

#[test]
fn hound_written_wav_roundtrips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ramp-16000Hz-mono.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..1000i32 {
        w.write_sample((i * 30 - 15000) as i16).unwrap();
    }
    w.finalize().unwrap();
    let a = decode_file(&path).unwrap();
    assert_eq!(a.samples.len(), 1000);
    for (i, v) in a.samples.iter().enumerate() {
        let want = (i as i32 * 30 - 15000) as f32 / 32768.0;
        assert!((v - want).abs() < 1e-6, "sample {i}: {v} vs {want}");
    }
}

#[test]
fn streaming_resampler_matches_whole_clip_resampling() {
    use hark::resample::StreamResampler;
    let a = decode_file(&audio("sine440-44100Hz-stereo.flac")).unwrap();
    let whole = resample_all(a.clone(), 16000).unwrap().samples;
    let mut rs = StreamResampler::new(44100, 16000).unwrap();
    let mut streamed = Vec::new();
    // Odd chunk sizes, as a capture callback would deliver.
    let mut pos = 0;
    for k in 0.. {
        if pos >= a.samples.len() {
            break;
        }
        let n = [1usize, 37, 512, 1000, 4410][k % 5].min(a.samples.len() - pos);
        rs.process(&a.samples[pos..pos + n], &mut streamed).unwrap();
        pos += n;
    }
    // The streaming resampler holds back up to one chunk at the end; the rest lines up with
    // the whole-clip result sample for sample (same 440 Hz, same phase). The two use different
    // FFT block sizes, so their anti-alias filters differ slightly: 0.016 here at level 0.5.
    assert!(
        whole.len() - streamed.len() < 1000,
        "{} vs {}",
        whole.len(),
        streamed.len()
    );
    let f = frequency(&streamed, 16000);
    assert!((f - 440.0).abs() < 2.0, "streamed frequency {f}");
    let mid = streamed.len() / 2;
    let diff = |lag: i64| {
        (mid - 500..mid + 500)
            .map(|i| (streamed[i] - whole[(i as i64 + lag) as usize]).abs())
            .fold(0f32, f32::max)
    };
    let worst = diff(0);
    assert!(
        worst < 0.03,
        "streamed and whole-clip resampling differ by {worst}"
    );
    for lag in [-2i64, -1, 1, 2] {
        assert!(
            diff(lag) > worst,
            "better aligned with a lag of {lag} samples"
        );
    }
}
