//! The bench report as a readable table.

use super::BenchReport;

impl BenchReport {
    /// A readable table.
    pub fn to_text(&self) -> String {
        let load = |l: Option<[f64; 3]>| {
            l.map(|l| format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2]))
                .unwrap_or_else(|| "n/a".into())
        };
        let mut s = format!(
            "foodqc bench: {} thread(s), {} profile, load {} -> {}\n",
            self.threads,
            self.profile,
            load(self.load_before),
            load(self.load_after)
        );
        for w in self.photos.iter().chain(std::iter::once(&self.frames)) {
            let binned = if w.binning > 1 {
                format!(", decoded binned {0}x{0}", w.binning)
            } else {
                String::new()
            };
            s += &format!(
                "\n{} ({}x{}{binned}, {} inputs, {} runs, {:.1} items judged per run)\n",
                w.name, w.width, w.height, w.inputs, w.runs, w.items_per_run
            );
            s += &format!(
                "  {:<12} {:>10} {:>10} {:>10} {:>14}\n",
                "stage", "median ms", "p95 ms", "mean ms", "CPU median ms"
            );
            for t in w.stages.iter().chain(std::iter::once(&w.end_to_end)) {
                s += &format!(
                    "  {:<12} {:>10.2} {:>10.2} {:>10.2} {:>14.2}\n",
                    t.stage, t.median_ms, t.p95_ms, t.mean_ms, t.cpu_median_ms
                );
            }
            s += &format!(
                "  {:.1} per second at the median, {:.1} over all runs\n",
                w.fps_median, w.fps_mean
            );
        }
        if let Some(t) = &self.training {
            s += &format!(
                "\ntraining on {} good images ({} items): {:.3} s (measure {:.3} s, fit {:.3} s; median of {})\n",
                t.images, t.items, t.total_s, t.measure_s, t.fit_s, t.runs
            );
        }
        if let Some(t) = &self.labelled_training {
            let stages: Vec<String> = t
                .stages
                .iter()
                .zip(&t.stage_cpu_seconds)
                .map(|((n, v), c)| format!("{n} {v:.2} s / CPU {c:.2} s"))
                .collect();
            s += &format!(
                "training from {} labelled samples ({} good): {:.2} s, CPU {:.2} s ({})\n",
                t.samples,
                t.good,
                t.seconds,
                t.cpu_seconds,
                stages.join(", ")
            );
        }
        if let Some(m) = self.peak_memory_mib {
            s += &format!("peak memory {m:.0} MiB\n");
        }
        s
    }
}
