//! `faas bench plot`: reads the CSV that `scripts/bench-modes.sh` collects
//! from `faas bench --csv-label` lines and draws it as SVG charts
//! (throughput and latency per configuration, weak scaling per workload).
//! It reads the CSV and writes the SVGs, and does no other I/O.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The CSV header `faas bench --csv-label` rows go under.
pub const HEADER: &str = crate::bench::CSV_HEADER;
/// The columns the charts need; others (p95, CPU, ...) may be there too.
const COLUMNS: [&str; 7] = [
    "label",
    "workload",
    "tasks",
    "clients",
    "p50_ms",
    "p99_ms",
    "tasks_per_s",
];

/// File names of the charts, in the output directory.
pub const THROUGHPUT_SVG: &str = "throughput.svg";
pub const LATENCY_SVG: &str = "latency.svg";
pub const WEAK_SCALING_SVG: &str = "weak-scaling.svg";

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("no data rows under the header")]
    NoRows,
    #[error("cannot create {path}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot draw {path}: {message}")]
    Draw { path: PathBuf, message: String },
}

/// The dispatch mode a label names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Local,
    Push,
    Pull,
    /// A label whose first part is none of the three.
    Other,
}

impl Mode {
    fn parse(s: &str) -> Mode {
        match s {
            "local" => Mode::Local,
            "push" => Mode::Push,
            "pull" => Mode::Pull,
            _ => Mode::Other,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Push => "push",
            Mode::Pull => "pull",
            Mode::Other => "other",
        }
    }

    fn color(self) -> RGBColor {
        match self {
            Mode::Local => RGBColor(31, 119, 180),
            Mode::Push => RGBColor(230, 120, 20),
            Mode::Pull => RGBColor(44, 160, 44),
            Mode::Other => RGBColor(127, 127, 127),
        }
    }
}

/// What a label says about its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `MODE-...` (`local-2slots`, `push-2x2`): the side-by-side runs.
    SideBySide(Mode),
    /// `weak-MODE-W`: W workers of one slot (W local slots).
    Weak { mode: Mode, workers: u32 },
}

/// One row of the CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRow {
    /// 1-based line number in the CSV.
    pub line: usize,
    pub label: String,
    pub kind: Kind,
    pub workload: String,
    pub tasks: u64,
    pub clients: u64,
    /// NaN when the run timed no round trips (`--latency-samples 0`).
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub tasks_per_s: f64,
}

/// Parses the CSV text: the header, then one row per non-blank line.
pub fn parse_csv(text: &str) -> Result<Vec<BenchRow>, PlotError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());
    let Some((header_line, header)) = lines.next() else {
        return Err(PlotError::Parse {
            line: 1,
            message: format!("empty file: expected the header {HEADER}"),
        });
    };
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let mut index = [0usize; 7];
    for (slot, column) in index.iter_mut().zip(COLUMNS) {
        *slot = names
            .iter()
            .position(|n| *n == column)
            .ok_or_else(|| PlotError::Parse {
                line: header_line,
                message: format!("header has no column {column:?}: expected {HEADER}"),
            })?;
    }
    let mut rows = Vec::new();
    for (line, text) in lines {
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        if fields.len() != names.len() {
            return Err(PlotError::Parse {
                line,
                message: format!(
                    "expected {} fields, found {}: {text:?}",
                    names.len(),
                    fields.len()
                ),
            });
        }
        let field = |i: usize| fields[index[i]];
        let bad = |message: String| PlotError::Parse { line, message };
        let count = |i: usize| -> Result<u64, PlotError> {
            field(i).parse().map_err(|_| {
                bad(format!(
                    "{} {:?} is not a whole number",
                    COLUMNS[i],
                    field(i)
                ))
            })
        };
        let number = |i: usize, nan_ok: bool| -> Result<f64, PlotError> {
            match field(i).parse::<f64>() {
                Ok(v) if v.is_nan() && nan_ok => Ok(v),
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
                _ => Err(bad(format!(
                    "{} {:?} is not a non-negative number",
                    COLUMNS[i],
                    field(i)
                ))),
            }
        };
        let label = field(0).to_string();
        if label.is_empty() {
            return Err(bad("empty label".into()));
        }
        let kind = parse_label(&label).map_err(bad)?;
        rows.push(BenchRow {
            line,
            kind,
            workload: field(1).to_string(),
            tasks: count(2)?,
            clients: count(3)?,
            p50_ms: number(4, true)?,
            p99_ms: number(5, true)?,
            tasks_per_s: number(6, false)?,
            label,
        });
    }
    if rows.is_empty() {
        return Err(PlotError::NoRows);
    }
    Ok(rows)
}

fn parse_label(label: &str) -> Result<Kind, String> {
    if let Some(rest) = label.strip_prefix("weak-") {
        let parsed = rest.split_once('-').and_then(|(mode, w)| {
            let workers: u32 = w.parse().ok().filter(|&w| w > 0)?;
            Some(Kind::Weak {
                mode: Mode::parse(mode),
                workers,
            })
        });
        return parsed.ok_or_else(|| {
            format!("weak-scaling label {label:?} is not weak-MODE-W (W a positive number)")
        });
    }
    let mode = label.split('-').next().unwrap_or(label);
    Ok(Kind::SideBySide(Mode::parse(mode)))
}

/// A workload as people read it: `fib(25)`, `sleep 100 ms` (the CSV has
/// the Debug form `sleepms(100)`; the script's `fib:25` form works too).
pub fn workload_name(w: &str) -> String {
    let inner = |prefix: &str| w.strip_prefix(prefix).and_then(|r| r.strip_suffix(')'));
    if let Some(ms) = inner("sleepms(").or_else(|| w.strip_prefix("sleep:")) {
        return format!("sleep {ms} ms");
    }
    if let Some(n) = w.strip_prefix("fib:") {
        return format!("fib({n})");
    }
    w.to_string()
}

/// What `plot_file` wrote, and which charts it left out and why.
#[derive(Debug, Default)]
pub struct PlotReport {
    pub written: Vec<PathBuf>,
    pub skipped: Vec<String>,
}

/// Reads the CSV at `csv` and writes the charts into `out_dir` (created if missing).
pub fn plot_file(csv: &Path, out_dir: &Path) -> Result<PlotReport, PlotError> {
    let text = std::fs::read_to_string(csv).map_err(|source| PlotError::Read {
        path: csv.into(),
        source,
    })?;
    let rows = parse_csv(&text)?;
    std::fs::create_dir_all(out_dir).map_err(|source| PlotError::CreateDir {
        path: out_dir.into(),
        source,
    })?;
    plot_rows(&rows, out_dir)
}

/// Draws the charts the rows have data for into `out_dir`.
pub fn plot_rows(rows: &[BenchRow], out_dir: &Path) -> Result<PlotReport, PlotError> {
    let mut report = PlotReport::default();
    let side: Vec<&BenchRow> = rows
        .iter()
        .filter(|r| matches!(r.kind, Kind::SideBySide(_)))
        .collect();
    let weak: Vec<&BenchRow> = rows
        .iter()
        .filter(|r| matches!(r.kind, Kind::Weak { .. }))
        .collect();

    if side.is_empty() {
        report.skipped.push(format!("{THROUGHPUT_SVG} and {LATENCY_SVG}: no side-by-side rows (labels not starting with weak-)"));
    } else {
        let path = out_dir.join(THROUGHPUT_SVG);
        draw(&path, |p| throughput_chart(&side, p))?;
        report.written.push(path);
        let path = out_dir.join(LATENCY_SVG);
        if side.iter().any(|r| r.p50_ms.is_finite()) {
            draw(&path, |p| latency_chart(&side, p))?;
            report.written.push(path);
        } else {
            report
                .skipped
                .push(format!("{LATENCY_SVG}: no round trips were timed"));
        }
    }
    if weak.is_empty() {
        let mut note = format!("{WEAK_SCALING_SVG}: no weak-scaling rows (a quick run?)");
        if out_dir.join(WEAK_SCALING_SVG).exists() {
            note.push_str(&format!(
                "; the {WEAK_SCALING_SVG} in {} is from an earlier run",
                out_dir.display()
            ));
        }
        report.skipped.push(note);
    } else {
        let path = out_dir.join(WEAK_SCALING_SVG);
        draw(&path, |p| weak_scaling_chart(&weak, p))?;
        report.written.push(path);
    }
    Ok(report)
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw(path: &Path, chart: impl FnOnce(&Path) -> DrawResult) -> Result<(), PlotError> {
    chart(path).map_err(|e| PlotError::Draw {
        path: path.into(),
        message: e.to_string(),
    })
}

const FONT: &str = "sans-serif";

/// `12345.6` -> `12,346`; below 10, two decimals.
fn fmt_number(v: f64) -> String {
    if v.abs() < 10.0 && v.fract() != 0.0 {
        return format!("{v:.2}");
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// How a legend entry is drawn.
enum Mark {
    Bar(RGBColor),
    LightBar(RGBColor),
    Line(RGBColor),
    /// Text alone.
    Note,
}

/// A horizontal legend across `area`, entries left to right from `x`.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: &[(String, Mark)],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (_, h) = area.dim_in_pixel();
    let y = h as i32 / 2;
    let style = TextStyle::from((FONT, 15).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut x = 60;
    for (name, mark) in entries {
        match mark {
            Mark::Bar(c) => {
                area.draw(&Rectangle::new([(x, y - 7), (x + 18, y + 7)], c.filled()))?
            }
            Mark::LightBar(c) => {
                area.draw(&Rectangle::new(
                    [(x, y - 7), (x + 18, y + 7)],
                    c.mix(0.35).filled(),
                ))?;
                area.draw(&Rectangle::new(
                    [(x, y - 7), (x + 18, y + 7)],
                    c.stroke_width(1),
                ))?;
            }
            Mark::Line(c) => {
                area.draw(&PathElement::new(
                    vec![(x, y), (x + 24, y)],
                    c.stroke_width(2),
                ))?;
                area.draw(&Circle::new((x + 12, y), 4, c.filled()))?;
            }
            Mark::Note => {}
        }
        let text_x = x + 28;
        area.draw(&Text::new(name.clone(), (text_x, y), style.clone()))?;
        // Room for the text as a sans-serif font draws it (~0.6 em a character).
        x = text_x + (name.chars().count() as i32 * 9) + 28;
    }
    Ok(())
}

/// The modes present among `rows`, in a fixed order.
fn modes_of(rows: &[&BenchRow]) -> Vec<Mode> {
    let set: BTreeSet<Mode> = rows
        .iter()
        .map(|r| match r.kind {
            Kind::SideBySide(m) | Kind::Weak { mode: m, .. } => m,
        })
        .collect();
    set.into_iter().collect()
}

fn side_mode(r: &BenchRow) -> Mode {
    match r.kind {
        Kind::SideBySide(m) | Kind::Weak { mode: m, .. } => m,
    }
}

/// "noop, 20,000 tasks, 32 clients" when every row shares them.
fn common_setup(rows: &[&BenchRow]) -> String {
    let first = rows[0];
    let mut parts = Vec::new();
    if rows.iter().all(|r| r.workload == first.workload) {
        parts.push(workload_name(&first.workload));
    }
    if rows.iter().all(|r| r.tasks == first.tasks) {
        parts.push(format!("{} tasks", fmt_number(first.tasks as f64)));
    }
    if rows.iter().all(|r| r.clients == first.clients) {
        parts.push(format!("{} clients", first.clients));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// Chart width for `n` categories: room for each label under its bars.
fn category_width(rows: &[&BenchRow]) -> u32 {
    let longest = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(8) as u32;
    let per = (longest * 9 + 24).max(110);
    (140 + per * rows.len() as u32).max(720)
}

/// A linear f64 axis whose ticks are exactly `points` (plotters' own
/// `with_key_points` on f64 loses the label formatter in 0.3.7).
struct TickAxis {
    range: std::ops::Range<f64>,
    points: Vec<f64>,
}

impl Ranged for TickAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        if span <= 0.0 {
            return (limit.0 + limit.1) / 2;
        }
        let share = (value - self.range.start) / span;
        limit.0 + ((limit.1 - limit.0) as f64 * share).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.points.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

/// A category axis: x in -0.5..n-0.5, one tick per label at 0, 1, ..
fn category_labels<'a>(rows: &'a [&'a BenchRow]) -> impl Fn(&f64) -> String + 'a {
    move |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            rows.get(i as usize)
                .map(|r| r.label.clone())
                .unwrap_or_default()
        } else {
            String::new()
        }
    }
}

type CategoryChart<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<TickAxis, RangedCoordf64>>;

/// A chart with one category per row on x (labelled with the rows'
/// labels) and 0 to a little over `max` on y, its mesh drawn.
fn category_chart<'a>(
    body: &DrawingArea<SVGBackend<'a>, Shift>,
    rows: &[&BenchRow],
    max: f64,
    y_format: &dyn Fn(&f64) -> String,
    y_desc: &str,
) -> Result<CategoryChart<'a>, Box<dyn std::error::Error>> {
    let n = rows.len();
    let top = if max > 0.0 { max * 1.12 } else { 1.0 };
    let ticks: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let mut chart = ChartBuilder::on(body)
        .margin(12)
        .margin_right(24)
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d(
            TickAxis {
                range: -0.5..n as f64 - 0.5,
                points: ticks,
            },
            0f64..top,
        )?;
    let labels = category_labels(rows);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&labels)
        .y_label_formatter(y_format)
        .light_line_style(WHITE)
        .x_desc("configuration (MODE-WORKERSxSLOTS; local: 2 slots in the dispatcher)")
        .y_desc(y_desc)
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 14))
        .draw()?;
    Ok(chart)
}

fn throughput_chart(rows: &[&BenchRow], path: &Path) -> DrawResult {
    let root = SVGBackend::new(path, (category_width(rows), 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!("Throughput by configuration{}", common_setup(rows));
    let root = root.titled(&title, (FONT, 24))?;
    let (legend, body) = root.split_vertically(34);
    let modes = modes_of(rows);
    draw_legend(
        &legend,
        &modes
            .iter()
            .map(|m| (m.name().to_string(), Mark::Bar(m.color())))
            .collect::<Vec<_>>(),
    )?;

    let max = rows.iter().map(|r| r.tasks_per_s).fold(0.0, f64::max);
    let mut chart = category_chart(
        &body,
        rows,
        max,
        &|y| fmt_number(*y),
        "throughput (tasks/s)",
    )?;
    for mode in modes {
        let color = mode.color();
        chart.draw_series(
            rows.iter()
                .enumerate()
                .filter(|(_, r)| side_mode(r) == mode)
                .map(|(i, r)| {
                    let x = i as f64;
                    Rectangle::new([(x - 0.32, 0.0), (x + 0.32, r.tasks_per_s)], color.filled())
                }),
        )?;
    }
    let value_style =
        TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
        Text::new(
            format!("{}/s", fmt_number(r.tasks_per_s)),
            (i as f64, r.tasks_per_s),
            value_style.clone(),
        )
    }))?;
    root.present()?;
    Ok(())
}

fn latency_chart(rows: &[&BenchRow], path: &Path) -> DrawResult {
    let root = SVGBackend::new(path, (category_width(rows), 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "Round-trip latency, submit to result (one task at a time)",
        (FONT, 24),
    )?;
    let (legend, body) = root.split_vertically(34);
    let modes = modes_of(rows);
    let mut entries: Vec<(String, Mark)> = Vec::new();
    for m in &modes {
        entries.push((format!("{} p50", m.name()), Mark::Bar(m.color())));
        entries.push((format!("{} p99", m.name()), Mark::LightBar(m.color())));
    }
    draw_legend(&legend, &entries)?;

    let max = rows
        .iter()
        .flat_map(|r| [r.p50_ms, r.p99_ms])
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let mut chart = category_chart(&body, rows, max, &|y| format!("{y:.2}"), "round trip (ms)")?;
    let timed = |r: &&BenchRow| r.p50_ms.is_finite() && r.p99_ms.is_finite();
    for mode in modes {
        let color = mode.color();
        let of_mode = || {
            rows.iter()
                .enumerate()
                .filter(move |(_, r)| side_mode(r) == mode && timed(r))
        };
        chart.draw_series(of_mode().map(|(i, r)| {
            let x = i as f64;
            Rectangle::new([(x - 0.36, 0.0), (x - 0.01, r.p50_ms)], color.filled())
        }))?;
        chart.draw_series(of_mode().map(|(i, r)| {
            let x = i as f64;
            Rectangle::new(
                [(x + 0.01, 0.0), (x + 0.36, r.p99_ms)],
                color.mix(0.35).filled(),
            )
        }))?;
        chart.draw_series(of_mode().map(|(i, r)| {
            let x = i as f64;
            Rectangle::new(
                [(x + 0.01, 0.0), (x + 0.36, r.p99_ms)],
                color.stroke_width(1),
            )
        }))?;
    }
    let value_style =
        TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(
        rows.iter()
            .enumerate()
            .filter(|(_, r)| timed(r))
            .flat_map(|(i, r)| {
                let x = i as f64;
                [
                    Text::new(
                        format!("{:.2}", r.p50_ms),
                        (x - 0.185, r.p50_ms),
                        value_style.clone(),
                    ),
                    Text::new(
                        format!("{:.2}", r.p99_ms),
                        (x + 0.185, r.p99_ms),
                        value_style.clone(),
                    ),
                ]
            }),
    )?;
    root.present()?;
    Ok(())
}

/// One panel of the weak-scaling grid: a workload at a tasks-per-slot amount.
struct Panel {
    workload: String,
    per_slot: u64,
    /// (mode, W, tasks/s), W ascending within a mode.
    points: Vec<(Mode, u32, f64)>,
}

fn weak_panels(rows: &[&BenchRow]) -> Vec<Vec<Panel>> {
    let mut workloads: Vec<String> = Vec::new();
    let mut amounts: BTreeSet<u64> = BTreeSet::new();
    for r in rows {
        let name = workload_name(&r.workload);
        if !workloads.contains(&name) {
            workloads.push(name);
        }
        if let Kind::Weak { workers, .. } = r.kind {
            amounts.insert(r.tasks / u64::from(workers));
        }
    }
    workloads
        .into_iter()
        .map(|workload| {
            amounts
                .iter()
                .map(|&per_slot| {
                    let mut points: Vec<(Mode, u32, f64)> = Vec::new();
                    for r in rows {
                        let Kind::Weak { mode, workers } = r.kind else {
                            continue;
                        };
                        if workload_name(&r.workload) != workload
                            || r.tasks / u64::from(workers) != per_slot
                        {
                            continue;
                        }
                        // A rerun of the same point later in the file replaces it.
                        points.retain(|&(m, w, _)| (m, w) != (mode, workers));
                        points.push((mode, workers, r.tasks_per_s));
                    }
                    points.sort_by_key(|&(m, w, _)| (m, w));
                    Panel {
                        workload: workload.clone(),
                        per_slot,
                        points,
                    }
                })
                .collect()
        })
        .collect()
}

fn weak_scaling_chart(rows: &[&BenchRow], path: &Path) -> DrawResult {
    let grid = weak_panels(rows);
    let (nrows, ncols) = (grid.len(), grid.first().map_or(1, Vec::len));
    let (panel_w, panel_h) = (520u32, 340u32);
    let (title_h, legend_h) = (48u32, 34u32);
    let size = (
        panel_w * ncols as u32,
        title_h + legend_h + panel_h * nrows as u32,
    );
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "Weak scaling: throughput against W workers of 1 slot (local: W slots)",
        (FONT, 24),
    )?;
    let (legend, body) = root.split_vertically(legend_h);
    let modes = modes_of(rows);
    let mut entries: Vec<(String, Mark)> = modes
        .iter()
        .map(|m| (m.name().to_string(), Mark::Line(m.color())))
        .collect();
    entries.push(("(each panel has its own y axis)".to_string(), Mark::Note));
    draw_legend(&legend, &entries)?;

    let workers: Vec<u32> = rows
        .iter()
        .filter_map(|r| match r.kind {
            Kind::Weak { workers, .. } => Some(workers),
            Kind::SideBySide(_) => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let max_w = workers.iter().copied().max().unwrap_or(1) as f64;
    let areas = body.split_evenly((nrows, ncols));
    for (area, panel) in areas.iter().zip(grid.iter().flatten()) {
        let max = panel.points.iter().map(|p| p.2).fold(0.0, f64::max);
        let top = if max > 0.0 { max * 1.15 } else { 1.0 };
        let caption = format!(
            "{}, {} tasks per slot",
            panel.workload,
            fmt_number(panel.per_slot as f64)
        );
        let mut chart = ChartBuilder::on(area)
            .caption(caption, (FONT, 18))
            .margin(10)
            .margin_right(20)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(
                TickAxis {
                    range: 0.0..max_w * 1.06 + 0.3,
                    points: workers.iter().map(|&w| f64::from(w)).collect(),
                },
                0f64..top,
            )?;
        chart
            .configure_mesh()
            .x_labels(workers.len())
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_labels(6)
            .y_label_formatter(&|y| fmt_number(*y))
            .x_desc("W (workers of 1 slot)")
            .y_desc("throughput (tasks/s)")
            .axis_desc_style((FONT, 14))
            .label_style((FONT, 13))
            .light_line_style(WHITE)
            .draw()?;
        if panel.points.is_empty() {
            let style =
                TextStyle::from((FONT, 15).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
            chart.draw_series(std::iter::once(Text::new(
                "no data",
                (max_w / 2.0, top / 2.0),
                style,
            )))?;
        }
        for &mode in &modes {
            let color = mode.color();
            let line: Vec<(f64, f64)> = panel
                .points
                .iter()
                .filter(|p| p.0 == mode)
                .map(|&(_, w, v)| (f64::from(w), v))
                .collect();
            chart.draw_series(LineSeries::new(line.iter().copied(), color.stroke_width(2)))?;
            chart.draw_series(line.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        }
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The columns the charts need, as the first data files had them.
    const SHORT: &str = "label,workload,tasks,clients,p50_ms,p99_ms,tasks_per_s";

    const CHECKED_IN: &str = include_str!("../../docs/data/modes-2026-11-23.csv");

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let dir = std::env::temp_dir()
                .join(format!("faas-plot-{name}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn parses_good_rows() {
        let rows = parse_csv(&format!(
            "{SHORT}\nlocal-2slots,noop,20000,32,0.767,1.418,10050\n\npull-2x2,noop,20000,32,NaN,NaN,7000\nweak-push-4,fib(25),2000,16,1.441,1.624,1761\n"
        ))
        .expect("parse");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].kind, Kind::SideBySide(Mode::Local));
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].tasks, 20000);
        assert_eq!(rows[0].tasks_per_s, 10050.0);
        assert_eq!(rows[1].kind, Kind::SideBySide(Mode::Pull));
        assert_eq!(rows[1].line, 4, "blank lines still count");
        assert!(rows[1].p50_ms.is_nan());
        assert_eq!(
            rows[2].kind,
            Kind::Weak {
                mode: Mode::Push,
                workers: 4
            }
        );
        assert_eq!(rows[2].p99_ms, 1.624);
        assert_eq!(workload_name(&rows[2].workload), "fib(25)");
        assert_eq!(workload_name("sleepms(100)"), "sleep 100 ms");
        assert_eq!(workload_name("sleep:100"), "sleep 100 ms");
    }

    #[test]
    fn columns_are_found_by_name() {
        let rows = parse_csv("tasks_per_s,label,workload,tasks,clients,p50_ms,p99_ms\n5604,push-1x2,noop,20000,32,0.869,1.269\n")
            .expect("parse");
        assert_eq!(rows[0].label, "push-1x2");
        assert_eq!(rows[0].tasks_per_s, 5604.0);
    }

    #[test]
    fn parses_the_checked_in_run() {
        let rows = parse_csv(CHECKED_IN).expect("parse");
        assert_eq!(rows.len(), 52);
        assert_eq!(
            rows.iter()
                .filter(|r| matches!(r.kind, Kind::SideBySide(_)))
                .count(),
            4
        );
    }

    fn parse_error(text: &str) -> (usize, String) {
        match parse_csv(text) {
            Err(PlotError::Parse { line, message }) => (line, message),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn bad_lines_are_named() {
        let good = "local-2slots,noop,20000,32,0.767,1.418,10050";
        let (line, msg) = parse_error(&format!(
            "{SHORT}\n{good}\npush-1x2,noop,20000,32,0.869,1.269\n"
        ));
        assert_eq!(line, 3);
        assert!(msg.contains("expected 7 fields, found 6"), "{msg}");
        let (line, msg) = parse_error(&format!(
            "{SHORT}\n{good}\n{good}\npush-1x2,noop,lots,32,0.869,1.269,5604\n"
        ));
        assert_eq!(line, 4);
        assert!(msg.contains("tasks \"lots\""), "{msg}");
        let (line, msg) = parse_error(&format!("{SHORT}\npush-1x2,noop,20000,32,0.869,1.269,-3\n"));
        assert_eq!(line, 2);
        assert!(msg.contains("tasks_per_s"), "{msg}");
        let (line, msg) = parse_error(&format!("{SHORT}\nweak-push-many,noop,5,16,1,1,10\n"));
        assert_eq!(line, 2);
        assert!(msg.contains("weak-MODE-W"), "{msg}");
        let (line, msg) = parse_error("label,workload,tasks\nlocal-2slots,noop,1\n");
        assert_eq!(line, 1);
        assert!(msg.contains("clients"), "{msg}");
        assert_eq!(parse_error("").0, 1);
        assert!(matches!(
            parse_csv(&format!("{SHORT}\n")),
            Err(PlotError::NoRows)
        ));
    }

    /// The SVG's text elements, trimmed (plotters puts each on its own lines).
    fn svg_texts(dir: &Path, name: &str) -> Vec<String> {
        let svg = std::fs::read_to_string(dir.join(name)).expect("read svg");
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{name} is not an SVG"
        );
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                Some(
                    t.split_once('>')?
                        .1
                        .split_once("</text>")?
                        .0
                        .trim()
                        .to_string(),
                )
            })
            .collect()
    }

    fn assert_texts(dir: &Path, name: &str, wanted: &[&str]) -> Vec<String> {
        let texts = svg_texts(dir, name);
        for w in wanted {
            assert!(
                texts.iter().any(|t| t == w),
                "{name} has no text {w:?}: {texts:?}"
            );
        }
        texts
    }

    #[test]
    fn plots_the_checked_in_run() {
        let dir = TempDir::new("full");
        let csv = dir.0.join("modes.csv");
        std::fs::write(&csv, CHECKED_IN).expect("write csv");
        let out = dir.0.join("charts");
        let report = plot_file(&csv, &out).expect("plot");
        let names: Vec<_> = report
            .written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [THROUGHPUT_SVG, LATENCY_SVG, WEAK_SCALING_SVG]);
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);

        let throughput = assert_texts(
            &out,
            THROUGHPUT_SVG,
            &[
                "Throughput by configuration (noop, 20,000 tasks, 32 clients)",
                "local-2slots",
                "push-1x2",
                "push-2x2",
                "push-4x2",
                "throughput (tasks/s)",
                "10,050/s",
                "5,604/s",
                "local",
                "push",
            ],
        );
        assert!(
            !throughput.iter().any(|t| t == "pull"),
            "no pull rows, no pull legend"
        );
        assert_texts(
            &out,
            LATENCY_SVG,
            &[
                "local-2slots",
                "push-4x2",
                "round trip (ms)",
                "local p50",
                "push p99",
                "0.77",
                "1.42",
            ],
        );
        assert_texts(
            &out,
            WEAK_SCALING_SVG,
            &[
                "noop, 5 tasks per slot",
                "noop, 500 tasks per slot",
                "fib(25), 500 tasks per slot",
                "sleep 100 ms, 5 tasks per slot",
                "sleep 100 ms, 500 tasks per slot",
                "W (workers of 1 slot)",
                "throughput (tasks/s)",
                "local",
                "push",
                "8",
            ],
        );
        // One line per panel (6) and one in the legend, for each mode present.
        let weak = std::fs::read_to_string(out.join(WEAK_SCALING_SVG)).expect("read");
        let lines_of = |m: Mode| {
            let RGBColor(r, g, b) = m.color();
            weak.matches(&format!(
                "stroke=\"#{r:02X}{g:02X}{b:02X}\" stroke-width=\"2\""
            ))
            .count()
        };
        assert_eq!(
            (
                lines_of(Mode::Local),
                lines_of(Mode::Push),
                lines_of(Mode::Pull)
            ),
            (7, 7, 0)
        );
    }

    #[test]
    fn panels_group_by_workload_and_tasks_per_slot() {
        let rows = parse_csv(CHECKED_IN).expect("parse");
        let weak: Vec<&BenchRow> = rows
            .iter()
            .filter(|r| matches!(r.kind, Kind::Weak { .. }))
            .collect();
        let grid = weak_panels(&weak);
        assert_eq!(grid.len(), 3);
        let sleep_500 = &grid[2][1];
        assert_eq!(
            (sleep_500.workload.as_str(), sleep_500.per_slot),
            ("sleep 100 ms", 500)
        );
        assert_eq!(
            sleep_500.points,
            [
                (Mode::Local, 1, 10.0),
                (Mode::Local, 2, 20.0),
                (Mode::Local, 4, 39.0),
                (Mode::Local, 8, 79.0),
                (Mode::Push, 1, 10.0),
                (Mode::Push, 2, 19.0),
                (Mode::Push, 4, 38.0),
                (Mode::Push, 8, 76.0),
            ]
        );
    }

    #[test]
    fn a_quick_run_skips_weak_scaling() {
        let dir = TempDir::new("quick");
        let quick: String = CHECKED_IN
            .lines()
            .take(5)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            + "pull-2x2,noop,20000,32,0.9,1.9,7000\n";
        let rows = parse_csv(&quick).expect("parse");
        let report = plot_rows(&rows, &dir.0).expect("plot");
        assert_eq!(report.written.len(), 2);
        assert!(
            report.skipped[0].contains(WEAK_SCALING_SVG),
            "{:?}",
            report.skipped
        );
        assert!(!dir.0.join(WEAK_SCALING_SVG).exists());
        assert_texts(
            &dir.0,
            THROUGHPUT_SVG,
            &["local", "push", "pull", "pull-2x2", "7,000/s"],
        );
        assert_texts(
            &dir.0,
            LATENCY_SVG,
            &["pull p50", "pull p99", "0.90", "1.90"],
        );
    }
}
