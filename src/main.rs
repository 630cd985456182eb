//! The `hark` command line.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hark::model::ModelBundle;
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
    /// Threads for inference [default: available cores, at most 4].
    #[arg(long)]
    threads: Option<usize>,
    /// Kept (centre) seconds per window.
    #[arg(long, default_value_t = 8.0)]
    window_s: f64,
    /// Left-context seconds per window.
    #[arg(long, default_value_t = 1.0)]
    left_s: f64,
    /// Right look-ahead seconds per window.
    #[arg(long, default_value_t = 1.0)]
    right_s: f64,
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

fn load_model(arg: Option<&Path>, threads: Option<usize>) -> Result<ModelBundle> {
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
    Ok(model)
}

fn transcribe(args: TranscribeArgs) -> Result<()> {
    let model = load_model(args.model.as_deref(), args.threads)?;
    let opts = OfflineOptions {
        left_s: args.left_s,
        centre_s: args.window_s,
        right_s: args.right_s,
        ..Default::default()
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

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HARK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(QUIET_LOGS)),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Transcribe(args) => transcribe(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the whole cause chain, outermost first.
            eprintln!("hark: {e:#}");
            ExitCode::FAILURE
        }
    }
}
