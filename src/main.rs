//! The `hark` command line.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hark::capture::MicSource;
use hark::events::Event;
use hark::model::ModelBundle;
use hark::pipeline::{LiveConfig, Pipeline};
use hark::source::{FileSource, Pace, Source};
use hark::transcribe::{transcribe_file, OfflineOptions};
use hark::transcript::Format;

/// Real-time speech captioning with a Wav2Vec2-Conformer model.
#[derive(Parser, Debug)]
#[command(name = "hark", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Transcribe a whole audio file (WAV, FLAC, OGG/Vorbis, MP3) offline.
    Transcribe(TranscribeArgs),
    /// Live captions from a microphone.
    Live(LiveArgs),
    /// Run an audio file through the live pipeline (paced like a microphone).
    Replay(ReplayArgs),
    /// List audio input devices.
    Devices,
}

/// How live captions are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LiveFormat {
    /// Partial line rewritten in place on a terminal (final words plain, tentative ones
    /// dimmed), finished segments appended.
    Text,
    /// One JSON event per line.
    Json,
}

#[derive(clap::Args, Debug)]
struct LiveCommon {
    /// Model folder (with hark.json) or manifest file [default: $HARK_MODEL, else models/demo].
    #[arg(short, long)]
    model: Option<PathBuf>,
    /// Output format [default: text on a terminal, json when piped].
    #[arg(short, long, value_enum)]
    format: Option<LiveFormat>,
    /// Threads for inference [default: available cores, at most 4]; each window length keeps
    /// them only where they measured faster than one thread.
    #[arg(long)]
    threads: Option<usize>,
    /// Left-context seconds per window.
    #[arg(long, default_value_t = LiveConfig::default().left_s)]
    left_s: f64,
    /// Kept (centre) seconds per window.
    #[arg(long, default_value_t = LiveConfig::default().centre_s)]
    centre_s: f64,
    /// Right look-ahead seconds per window.
    #[arg(long, default_value_t = LiveConfig::default().right_s)]
    right_s: f64,
    /// Also print statistics events (JSON) / a status line (text).
    #[arg(long)]
    stats: bool,
}

#[derive(clap::Args, Debug)]
struct LiveArgs {
    /// Input device: index or (part of the) name from `hark devices` [default: the default input].
    #[arg(short, long)]
    device: Option<String>,
    #[command(flatten)]
    common: LiveCommon,
}

#[derive(clap::Args, Debug)]
struct ReplayArgs {
    /// Audio file to replay.
    file: PathBuf,
    /// Replay speed: a factor of real time (1 = real time) or `max` (as fast as inference goes).
    #[arg(long, default_value = "1")]
    speed: String,
    #[command(flatten)]
    common: LiveCommon,
}

#[derive(clap::Args, Debug)]
struct TranscribeArgs {
    /// Audio file to transcribe.
    file: PathBuf,
    /// Model folder (with hark.json) or manifest file [default: $HARK_MODEL, else models/demo].
    #[arg(short, long)]
    model: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Threads for inference [default: available cores, at most 4]; each window length keeps
    /// them only where they measured faster than one thread.
    #[arg(long)]
    threads: Option<usize>,
    /// Kept (centre) seconds per window [default: the model's `offline_window`, else 8].
    #[arg(long)]
    window_s: Option<f64>,
    /// Left-context seconds per window [default: the model's `offline_window`, else 1].
    #[arg(long)]
    left_s: Option<f64>,
    /// Right look-ahead seconds per window [default: the model's `offline_window`, else 1].
    #[arg(long)]
    right_s: Option<f64>,
}

fn default_model() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HARK_MODEL") {
        return Some(PathBuf::from(p));
    }
    let candidates = [
        PathBuf::from("models/demo"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/demo"),
    ];
    candidates
        .into_iter()
        .find(|p| p.join("hark.json").is_file())
}

fn load_model(arg: Option<&Path>, threads: Option<usize>) -> Result<Arc<ModelBundle>> {
    let path = match arg {
        Some(p) => p.to_owned(),
        None => default_model().context(
            "no model found: pass --model DIR (a folder with hark.json) or set HARK_MODEL",
        )?,
    };
    let model = match threads {
        Some(n) => ModelBundle::load_with_threads(&path, n)?,
        None => ModelBundle::load(&path)?,
    };
    Ok(Arc::new(model))
}

fn transcribe(args: TranscribeArgs) -> Result<()> {
    let model = load_model(args.model.as_deref(), args.threads)?;
    let model_opts = OfflineOptions::for_model(model.manifest());
    let opts = OfflineOptions {
        left_s: args.left_s.unwrap_or(model_opts.left_s),
        centre_s: args.window_s.unwrap_or(model_opts.centre_s),
        right_s: args.right_s.unwrap_or(model_opts.right_s),
        ..model_opts
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} transcribing [{bar:30}] {percent:>3}% {elapsed} (eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    });
    let mut progress = |done: usize, total: usize| {
        if let Some(bar) = &bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    let result = transcribe_file(&model, &args.file, &opts, &mut progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let transcript = result?;
    let rendered = transcript.render(args.format);
    match &args.output {
        Some(path) => std::fs::write(path, rendered)
            .with_context(|| format!("{}: cannot write output", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(rendered.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Default log filter: hark's warnings; the decoders' own log lines are off (their failures reach
/// the user as hark's one-line errors). `HARK_LOG=debug` shows everything.
const QUIET_LOGS: &str = "warn,symphonia_core=off,symphonia_format_riff=off,symphonia_format_ogg=off,\
symphonia_format_mkv=off,symphonia_bundle_mp3=off,symphonia_bundle_flac=off,symphonia_codec_vorbis=off,\
symphonia_codec_pcm=off,symphonia_codec_adpcm=off,symphonia_metadata=off,symphonia=off";

fn devices() -> Result<()> {
    let list = hark::capture::list_devices();
    if list.is_empty() {
        anyhow::bail!(hark::source::SourceError::NoDevice);
    }
    for d in list {
        let mark = if d.is_default { " (default)" } else { "" };
        println!("{}: {}{mark}", d.index, d.name);
        if let Some(c) = &d.default_config {
            println!("    default: {c}");
        }
        for c in &d.configs {
            println!("    supports: {c}");
        }
    }
    Ok(())
}

fn parse_pace(speed: &str) -> Result<Pace> {
    if speed.eq_ignore_ascii_case("max") {
        return Ok(Pace::Max);
    }
    match speed.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(Pace::Speed(v)),
        _ => anyhow::bail!("--speed must be a positive number or `max`, not {speed:?}"),
    }
}

fn run_live(source: Box<dyn Source>, common: &LiveCommon) -> Result<()> {
    let model = load_model(common.model.as_deref(), common.threads)?;
    let cfg = LiveConfig {
        left_s: common.left_s,
        centre_s: common.centre_s,
        right_s: common.right_s,
        ..Default::default()
    };
    let tty = std::io::stdout().is_terminal();
    let format = common.format.unwrap_or(if tty {
        LiveFormat::Text
    } else {
        LiveFormat::Json
    });
    tracing::info!("listening to {}", source.describe());
    let pipeline = Pipeline::start(model, source, cfg)?;
    let stop = pipeline.stop_flag();
    ctrlc::set_handler(move || stop.store(true, std::sync::atomic::Ordering::Release))
        .context("cannot install the Ctrl-C handler")?;
    let mut out = std::io::stdout().lock();
    let mut partial_shown = false;
    // Words of the open segment that are already final (shown undimmed in the partial line).
    let mut fixed = String::new();
    let mut warned = false;
    let mut error = None;
    for ev in pipeline.events().iter() {
        match format {
            LiveFormat::Json => {
                if matches!(ev, Event::Stats(_)) && !common.stats {
                    continue;
                }
                serde_json::to_writer(&mut out, &ev)?;
                out.write_all(b"\n")?;
                out.flush()?;
            }
            LiveFormat::Text => match &ev {
                Event::Partial { text, .. } if tty => {
                    // Final words in normal type, the tentative rest dimmed.
                    let rest = text.strip_prefix(fixed.as_str()).unwrap_or(text);
                    let fixed = &text[..text.len() - rest.len()];
                    write!(out, "\r\x1b[2K{fixed}\x1b[2m{rest}\x1b[0m")?;
                    out.flush()?;
                    partial_shown = true;
                }
                Event::FinalWords { words, .. } => {
                    for w in words {
                        if !fixed.is_empty() {
                            fixed.push(' ');
                        }
                        fixed.push_str(&w.text);
                    }
                }
                Event::Final(seg) => {
                    fixed.clear();
                    if partial_shown {
                        write!(out, "\r\x1b[2K")?;
                        partial_shown = false;
                    }
                    writeln!(out, "{}", seg.text)?;
                    out.flush()?;
                }
                Event::Stats(st) => {
                    if st.falling_behind && !warned {
                        eprintln!(
                            "hark: too slow: dropping audio to keep up ({:.1} s so far)",
                            st.dropped_s
                        );
                        warned = true;
                    }
                    if common.stats {
                        eprintln!(
                            "[{:.1} s audio, rtf {:.3}, latency {:.2} s, ring {:.0}%, dropped {:.1} s]",
                            st.audio_s, st.rtf, st.latency_s, 100.0 * st.ring_fill, st.dropped_s
                        );
                    }
                }
                _ => {}
            },
        }
        match ev {
            Event::Error { message } => error = Some(message),
            Event::Finished => break,
            _ => {}
        }
    }
    if partial_shown {
        writeln!(out)?;
    }
    pipeline.join();
    match error {
        Some(e) => anyhow::bail!(e),
        None => Ok(()),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HARK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(QUIET_LOGS)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Transcribe(args) => transcribe(args),
        Command::Devices => devices(),
        Command::Live(args) => MicSource::open(args.device.as_deref())
            .map_err(anyhow::Error::from)
            .and_then(|src| run_live(Box::new(src), &args.common)),
        Command::Replay(args) => parse_pace(&args.speed)
            .and_then(|pace| Ok(FileSource::open(args.file.clone(), pace)?))
            .and_then(|src| run_live(Box::new(src), &args.common)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the cause chain, outermost first, leaving out causes whose text the
            // message already contains (hark's errors embed their source).
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            eprintln!("hark: {msg}");
            ExitCode::FAILURE
        }
    }
}
