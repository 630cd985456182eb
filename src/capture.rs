//! Microphone capture (the only module that uses cpal).
//!
//! # Real-time contract of the capture callback
//!
//! The callback cpal calls on its audio thread ([`CaptureCallback::on_data`]) only converts
//! samples to `f32`, averages channels into a scratch buffer allocated before the stream starts,
//! and pushes into the lock-free ring ([`RingWriter::write`]). It takes no lock, allocates
//! nothing, does no I/O, logs nothing, and never resamples or runs inference: what does not fit
//! in the ring is counted in an atomic and reported by the inference thread.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};

use crate::ring::RingWriter;
use crate::source::{Source, SourceError, SourceHandle};

/// Frames converted per scratch pass in the callback.
const SCRATCH_FRAMES: usize = 1024;

/// The state the capture callback owns: the ring writer and a preallocated scratch buffer.
pub struct CaptureCallback {
    ring: RingWriter,
    scratch: Vec<f32>,
    channels: usize,
}

impl CaptureCallback {
    /// Allocates the scratch buffer (before the stream starts).
    pub fn new(ring: RingWriter, channels: usize) -> CaptureCallback {
        CaptureCallback {
            ring,
            scratch: vec![0.0; SCRATCH_FRAMES],
            channels: channels.max(1),
        }
    }

    /// Converts, downmixes and pushes one callback's worth of interleaved samples. Real-time
    /// safe (see the module docs). Returns the mono samples written to the ring.
    pub fn on_data<T>(&mut self, data: &[T]) -> usize
    where
        T: SizedSample,
        f32: FromSample<T>,
    {
        let mut written = 0;
        for block in data.chunks(SCRATCH_FRAMES * self.channels) {
            let frames = downmix_into(block, self.channels, &mut self.scratch);
            written += self.ring.write(&self.scratch[..frames]);
        }
        written
    }
}

/// Averages interleaved `channels`-channel samples into `out`; returns the frames written
/// (at most `out.len()`).
pub fn downmix_into<T>(data: &[T], channels: usize, out: &mut [f32]) -> usize
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let scale = 1.0 / channels as f32;
    let mut n = 0;
    for (frame, slot) in data.chunks_exact(channels).zip(out.iter_mut()) {
        let mut sum = 0.0f32;
        for &s in frame {
            sum += f32::from_sample_(s);
        }
        *slot = sum * scale;
        n += 1;
    }
    n
}

/// One input device as `hark devices` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// Position in the list (select with `--device INDEX`).
    pub index: usize,
    /// Name (select with `--device NAME` or a part of it).
    pub name: String,
    /// The host's default input device.
    pub is_default: bool,
    /// Default input configuration, if the device reports one.
    pub default_config: Option<String>,
    /// Supported input configurations.
    pub configs: Vec<String>,
}

/// Keeps ALSA's C library from printing its own errors on stderr while probing devices on this
/// thread (hark reports problems itself, in one line).
fn quiet_alsa() -> Option<Box<dyn std::any::Any>> {
    #[cfg(target_os = "linux")]
    {
        alsa::Output::local_error_handler()
            .ok()
            .map(|h| Box::new(h) as Box<dyn std::any::Any>)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

fn not_available(e: &cpal::Error) -> bool {
    matches!(
        e.kind(),
        cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::HostUnavailable
    )
}

fn device_name(d: &cpal::Device) -> String {
    d.description()
        .map(|x| x.name().to_string())
        .or_else(|_| d.id().map(|id| id.to_string()))
        .unwrap_or_else(|_| "unknown device".into())
}

/// Lists input devices of the default host. An empty list means no capture device at all.
pub fn list_devices() -> Vec<DeviceInfo> {
    let _quiet = quiet_alsa();
    let host = cpal::default_host();
    let default = host.default_input_device().map(|d| device_name(&d));
    let Ok(devices) = host.input_devices() else {
        return Vec::new();
    };
    devices
        .enumerate()
        .map(|(index, d)| {
            let name = device_name(&d);
            DeviceInfo {
                index,
                is_default: Some(&name) == default.as_ref(),
                default_config: d.default_input_config().ok().map(|c| {
                    format!(
                        "{} ch, {} Hz, {:?}",
                        c.channels(),
                        c.sample_rate(),
                        c.sample_format()
                    )
                }),
                configs: d
                    .supported_input_configs()
                    .map(|it| summarize(it.collect()))
                    .unwrap_or_default(),
                name,
            }
        })
        .collect()
}

/// One line per rate range: channel range and sample formats (devices like ALSA's `null`
/// report hundreds of combinations).
fn summarize(configs: Vec<cpal::SupportedStreamConfigRange>) -> Vec<String> {
    // (rate range, min channels, max channels, formats)
    type Group = ((u32, u32), u16, u16, Vec<String>);
    let mut groups: Vec<Group> = Vec::new();
    for c in configs {
        let key = (c.min_sample_rate(), c.max_sample_rate());
        let fmt = format!("{:?}", c.sample_format());
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => {
                g.1 = g.1.min(c.channels());
                g.2 = g.2.max(c.channels());
                if !g.3.contains(&fmt) {
                    g.3.push(fmt);
                }
            }
            None => groups.push((key, c.channels(), c.channels(), vec![fmt])),
        }
    }
    groups
        .into_iter()
        .map(|((lo, hi), cmin, cmax, fmts)| {
            let ch = if cmin == cmax {
                format!("{cmin} ch")
            } else {
                format!("{cmin}-{cmax} ch")
            };
            let rate = if lo == hi {
                format!("{lo} Hz")
            } else {
                format!("{lo}-{hi} Hz")
            };
            format!("{ch}, {rate}, {}", fmts.join(" "))
        })
        .collect()
}

/// The microphone as a [`Source`].
pub struct MicSource {
    device: cpal::Device,
    name: String,
    config: cpal::SupportedStreamConfig,
}

impl MicSource {
    /// Opens the default input device, or the one whose index or name (or part of it) is given.
    pub fn open(selector: Option<&str>) -> Result<MicSource, SourceError> {
        let _quiet = quiet_alsa();
        let host = cpal::default_host();
        let device = match selector {
            None => host.default_input_device().ok_or(SourceError::NoDevice)?,
            Some(sel) => {
                let devices: Vec<cpal::Device> = host
                    .input_devices()
                    .map(|d| d.collect())
                    .unwrap_or_default();
                if devices.is_empty() {
                    return Err(SourceError::NoDevice);
                }
                let by_index = sel
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| devices.get(i).cloned());
                by_index
                    .or_else(|| {
                        devices
                            .iter()
                            .find(|d| device_name(d).to_lowercase().contains(&sel.to_lowercase()))
                            .cloned()
                    })
                    .ok_or_else(|| SourceError::UnknownDevice(sel.to_string()))?
            }
        };
        let name = device_name(&device);
        let config = device.default_input_config().map_err(|e| {
            if not_available(&e) {
                SourceError::NoDevice
            } else {
                SourceError::Device {
                    device: name.clone(),
                    reason: e.to_string(),
                }
            }
        })?;
        Ok(MicSource {
            device,
            name,
            config,
        })
    }
}

fn build<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut callback: CaptureCallback,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    device.build_input_stream(
        *config,
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            callback.on_data(data);
        },
        // Stream errors (xruns, unplugging) are reported through the ring's counters and the
        // pipeline's stats; nothing may be printed from here.
        |_err| {},
        None,
    )
}

impl Source for MicSource {
    fn sample_rate(&self) -> u32 {
        self.config.sample_rate()
    }

    fn describe(&self) -> String {
        format!(
            "{} ({} ch, {} Hz)",
            self.name,
            self.config.channels(),
            self.config.sample_rate()
        )
    }

    fn start(
        self: Box<Self>,
        ring: RingWriter,
        stop: Arc<AtomicBool>,
    ) -> Result<SourceHandle, SourceError> {
        let channels = self.config.channels() as usize;
        let format = self.config.sample_format();
        let config: cpal::StreamConfig = self.config.into();
        let callback = CaptureCallback::new(ring, channels);
        let err = |e: cpal::Error| {
            if not_available(&e) {
                SourceError::NoDevice
            } else {
                SourceError::Device {
                    device: self.name.clone(),
                    reason: e.to_string(),
                }
            }
        };
        let stream = match format {
            SampleFormat::F32 => build::<f32>(&self.device, &config, callback),
            SampleFormat::I16 => build::<i16>(&self.device, &config, callback),
            SampleFormat::I32 => build::<i32>(&self.device, &config, callback),
            SampleFormat::U16 => build::<u16>(&self.device, &config, callback),
            SampleFormat::U8 => build::<u8>(&self.device, &config, callback),
            SampleFormat::I8 => build::<i8>(&self.device, &config, callback),
            SampleFormat::F64 => build::<f64>(&self.device, &config, callback),
            other => {
                return Err(SourceError::Device {
                    device: self.name.clone(),
                    reason: format!("unsupported sample format {other:?}"),
                })
            }
        }
        .map_err(err)?;
        stream.play().map_err(|e| SourceError::Device {
            device: self.name.clone(),
            reason: e.to_string(),
        })?;
        Ok(SourceHandle::keep(stop, Box::new(stream)))
    }
}
