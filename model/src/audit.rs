//! `check history`: audits recorded histories with the judge that decides the model's
//! properties (`redlock_client::history`), and prints each invariant's verdict with the first
//! violating event, its file, line and time.

use crate::outln;
use redlock_client::event::Record;
use redlock_client::history::{parse_line, Audit, Auditor, Lines};
use redlock_client::judge::Invariant;
use std::io::{BufRead, BufReader};
use std::time::Instant;

/// One input file, read record by record.
struct Input {
    name: String,
    lines: Lines<Box<dyn BufRead>>,
    next: Option<Record>,
}

impl Input {
    fn open(name: &str) -> Result<Input, String> {
        let reader: Box<dyn BufRead> = if name == "-" {
            Box::new(BufReader::new(std::io::stdin()))
        } else {
            Box::new(BufReader::new(std::fs::File::open(name).map_err(|e| format!("cannot open {name}: {e}"))?))
        };
        let name = if name == "-" { "stdin".to_string() } else { name.to_string() };
        let mut input = Input { name, lines: Lines::new(reader), next: None };
        input.advance()?;
        Ok(input)
    }

    fn line(&self) -> u64 {
        self.lines.number()
    }

    /// Reads the next record, skipping blank lines; errors name the file and the line.
    fn advance(&mut self) -> Result<(), String> {
        self.next = None;
        loop {
            let line = self.lines.number() + 1;
            let bytes = match self.lines.next_line() {
                Ok(Some(bytes)) => bytes,
                Ok(None) => return Ok(()),
                Err(e) => return Err(format!("{}: {e}", self.name)),
            };
            if let Some(record) = parse_line(bytes, line).map_err(|e| format!("{}: line {line}: {e}", self.name))? {
                self.next = Some(record);
                return Ok(());
            }
        }
    }
}

/// Audits `files` (merged by stamp; `-` is stdin) and prints the verdicts. Ok(false) when a
/// property is violated.
pub fn run(files: &[String], json: bool) -> Result<bool, String> {
    let started = Instant::now();
    let mut inputs = files.iter().map(|f| Input::open(f)).collect::<Result<Vec<_>, _>>()?;
    let mut auditor = Auditor::new();
    let mut sources = Vec::new();
    // A k-way merge by stamp: each file is already in stamp order.
    while let Some(i) = (0..inputs.len()).filter(|&i| inputs[i].next.is_some()).min_by_key(|&i| inputs[i].next.as_ref().map(|r| r.t_ns)) {
        let input = &mut inputs[i];
        let Some(record) = input.next.take() else { break };
        auditor.record(record, input.line()).map_err(|e| format!("{}: line {}: {}", input.name, e.line, e.message))?;
        while sources.len() < auditor.findings().len() {
            sources.push(input.name.clone());
        }
        input.advance()?;
    }
    let audit = auditor.finish();
    while sources.len() < audit.findings.len() {
        sources.push("end of history".into());
    }
    print_audit(&audit, &sources, started.elapsed().as_secs_f64(), json)?;
    Ok(audit.findings.is_empty())
}

fn print_audit(audit: &Audit, sources: &[String], seconds: f64, json: bool) -> Result<(), String> {
    for property in Invariant::ALL {
        let found = audit.findings.iter().zip(sources).find(|(f, _)| f.property == property);
        if json {
            let line = serde_json::json!({
                "property": property.name(),
                "verdict": if found.is_some() { "violated" } else { "holds" },
                "file": found.map(|(_, s)| s.clone()),
                "line": found.map(|(f, _)| f.line),
                "t_ns": found.map(|(f, _)| f.t_ns),
                "resource": found.map(|(f, _)| f.resource.clone()),
                "explanation": found.map(|(f, _)| f.explanation.clone()),
            });
            outln!("{line}");
        } else {
            match found {
                None => outln!("{:<22} holds", property.name()),
                Some((f, source)) => outln!(
                    "{:<22} VIOLATED at {source} line {} (t = {} ns), lock {:?}: {}",
                    property.name(),
                    f.line,
                    f.t_ns,
                    f.resource,
                    f.explanation
                ),
            }
        }
    }
    let summary = serde_json::json!({
        "records": audit.records,
        "locks": audit.locks,
        "locks_exact": audit.locks_exact,
        "grants": audit.grants,
        "peak_live_locks": audit.peak_live_locks,
        "seconds": seconds,
    });
    if json {
        outln!("{summary}");
    } else {
        outln!(
            "{} records, {}{} locks, {} grants, at most {} lock(s) kept at once, {seconds:.2} s. \
             The verdicts assume that one clock stamped every record (one machine).",
            audit.records,
            if audit.locks_exact { "" } else { "about " },
            audit.locks,
            audit.grants,
            audit.peak_live_locks
        );
    }
    Ok(())
}
