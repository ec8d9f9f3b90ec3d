//! `palisade toon encode | decode | stats`.
//!
//! Exit status: 0 on success, 1 on bad input (one line on stderr:
//! `palisade: SOURCE:LINE:COLUMN: message`), 2 on usage errors (from clap).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use palisade_toon::{DecodeOptions, Delimiter, EncodeOptions, TokenReport, Value};

/// Arguments of `palisade toon`.
#[derive(Debug, Args)]
pub(crate) struct ToonArgs {
    #[command(subcommand)]
    command: ToonCommand,
}

#[derive(Debug, Subcommand)]
enum ToonCommand {
    /// Read JSON (FILE or stdin) and write TOON to stdout, with no trailing newline.
    ///
    /// Numbers are kept exact: an integer literal that neither a 64-bit
    /// integer nor a double holds exactly is refused, and so is a key that
    /// repeats in one object (strict decoding would refuse the output).
    Encode {
        /// Delimiter for inline arrays and table rows.
        #[arg(long, value_enum, default_value_t = DelimiterArg::Comma)]
        delimiter: DelimiterArg,
        /// Spaces per indentation level.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
        indent: u16,
        /// JSON input file; stdin when absent.
        file: Option<PathBuf>,
    },
    /// Read TOON (FILE or stdin) and write compact JSON to stdout, with no trailing newline.
    ///
    /// Hostile input is refused rather than decoded into unbounded memory:
    /// at most 64 MiB, 128 levels of nesting, and one value per 2 input
    /// bytes (plus 65,536); the last two errors name the line and column.
    Decode {
        /// Recover from what spec v4.1.1 lets non-strict decoders accept.
        #[arg(long)]
        no_strict: bool,
        /// Spaces per indentation level.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
        indent: u16,
        /// TOON input file; stdin when absent.
        file: Option<PathBuf>,
    },
    /// Print bytes and o200k_base tokens of a JSON file as JSON (pretty and
    /// compact) and TOON (comma, tab, pipe), with the savings in percent.
    Stats {
        /// JSON input file.
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DelimiterArg {
    Comma,
    Tab,
    Pipe,
}

impl From<DelimiterArg> for Delimiter {
    fn from(d: DelimiterArg) -> Self {
        match d {
            DelimiterArg::Comma => Delimiter::Comma,
            DelimiterArg::Tab => Delimiter::Tab,
            DelimiterArg::Pipe => Delimiter::Pipe,
        }
    }
}

/// A failure reported as one line on stderr, exit status 1.
struct Failure(String);

/// Runs a `palisade toon` command.
pub(crate) fn run(args: ToonArgs) -> ExitCode {
    let result = match args.command {
        ToonCommand::Encode {
            delimiter,
            indent,
            file,
        } => encode(delimiter.into(), indent.into(), file.as_ref()),
        ToonCommand::Decode {
            no_strict,
            indent,
            file,
        } => decode(!no_strict, indent.into(), file.as_ref()),
        ToonCommand::Stats { file } => stats(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            // One line, whatever the message quotes from the input.
            let line: String = message
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            eprintln!("palisade: {line}");
            ExitCode::from(1)
        }
    }
}

fn source_name(file: Option<&PathBuf>) -> String {
    file.map_or_else(|| "<stdin>".to_owned(), |p| p.display().to_string())
}

fn read_input(file: Option<&PathBuf>) -> Result<String, Failure> {
    let name = source_name(file);
    let mut bytes = Vec::new();
    let read = match file {
        Some(path) => std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)),
        None => std::io::stdin().lock().read_to_end(&mut bytes),
    };
    read.map_err(|e| Failure(format!("{name}: cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let (line, column) = position_of(&e.as_bytes()[..e.utf8_error().valid_up_to()]);
        Failure(format!("{name}:{line}:{column}: input is not valid UTF-8"))
    })
}

/// 1-based line and column just after `prefix`.
fn position_of(prefix: &[u8]) -> (usize, usize) {
    let text = String::from_utf8_lossy(prefix);
    let line = text.matches('\n').count() + 1;
    let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// JSON as TOON needs it: numbers exact (a literal no number holds exactly is
/// refused) and a repeated key refused, as strict decoding refuses it.
fn parse_json(text: &str, name: &str) -> Result<Value, Failure> {
    palisade_toon::from_json_str(text).map_err(|e| toon_failure(name, &e))
}

fn write_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure(format!("cannot write to stdout: {e}")))
}

fn toon_failure(name: &str, e: &palisade_toon::Error) -> Failure {
    match e.position() {
        Some(p) => Failure(format!("{name}:{}:{}: {}", p.line, p.column, e.kind())),
        None => Failure(format!("{name}: {e}")),
    }
}

fn encode(delimiter: Delimiter, indent: usize, file: Option<&PathBuf>) -> Result<(), Failure> {
    let name = source_name(file);
    let value = parse_json(&read_input(file)?, &name)?;
    let options = EncodeOptions::new().delimiter(delimiter).indent(indent);
    let text = palisade_toon::encode(&value, &options).map_err(|e| toon_failure(&name, &e))?;
    write_stdout(&text)
}

fn decode(strict: bool, indent: usize, file: Option<&PathBuf>) -> Result<(), Failure> {
    let name = source_name(file);
    let options = DecodeOptions::new().strict(strict).indent(indent);
    let value =
        palisade_toon::decode(&read_input(file)?, &options).map_err(|e| toon_failure(&name, &e))?;
    let json = serde_json::to_string(&value).map_err(|e| Failure(format!("{name}: {e}")))?;
    write_stdout(&json)
}

fn stats(file: &PathBuf) -> Result<(), Failure> {
    let name = source_name(Some(file));
    let value = parse_json(&read_input(Some(file))?, &name)?;
    let report = TokenReport::of_value(&value).map_err(|e| toon_failure(&name, &e))?;
    let rows = [
        ("JSON (2-space)", report.json_pretty),
        ("JSON compact", report.json_compact),
        ("TOON comma", report.toon_comma),
        ("TOON tab", report.toon_tab),
        ("TOON pipe", report.toon_pipe),
    ];
    let mut out = format!(
        "{:<15} {:>10} {:>10} {:>14} {:>14}\n",
        "format", "bytes", "tokens", "vs JSON", "vs compact"
    );
    for (label, cost) in rows {
        out.push_str(&format!(
            "{label:<15} {:>10} {:>10} {:>13.1}% {:>13.1}%\n",
            cost.bytes,
            cost.tokens,
            cost.savings_vs(&report.json_pretty),
            cost.savings_vs(&report.json_compact),
        ));
    }
    out.push_str("(savings: positive = fewer tokens than the baseline; tokenizer o200k_base)\n");
    write_stdout(&out)
}
