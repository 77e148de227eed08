//! Pareto analysis of defect classes: which few classes make most of the rejects.

use serde::Serialize;

/// One bar of a Pareto chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParetoBar {
    /// Defect class (`unclassified` when the model named none).
    pub class: String,
    /// Items of this class.
    pub count: u64,
    /// Share of all counted items, 0..1.
    pub share: f64,
    /// Cumulative share up to and including this bar, 0..1.
    pub cumulative: f64,
}

/// Name used for rejected items without a defect class.
pub use crate::store::UNCLASSIFIED;

/// Sort `(class, count)` by count (largest first, then by name for a stable order) and add the
/// shares and the cumulative line. Zero counts are dropped.
pub fn pareto(counts: impl IntoIterator<Item = (String, u64)>) -> Vec<ParetoBar> {
    let mut counts: Vec<(String, u64)> = counts.into_iter().filter(|c| c.1 > 0).collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total: u64 = counts.iter().map(|c| c.1).sum();
    let mut running = 0u64;
    counts
        .into_iter()
        .map(|(class, count)| {
            running += count;
            ParetoBar {
                class,
                count,
                share: count as f64 / total as f64,
                cumulative: running as f64 / total as f64,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_sorted_with_cumulative_share() {
        let bars = pareto([
            ("burnt".to_string(), 30),
            ("crack".to_string(), 50),
            ("speck".to_string(), 0),
            ("missing".to_string(), 20),
        ]);
        let names: Vec<&str> = bars.iter().map(|b| b.class.as_str()).collect();
        assert_eq!(names, ["crack", "burnt", "missing"]);
        assert!((bars[0].share - 0.5).abs() < 1e-12);
        assert!((bars[1].cumulative - 0.8).abs() < 1e-12);
        assert!((bars[2].cumulative - 1.0).abs() < 1e-12);
        assert!(pareto(Vec::new()).is_empty());
    }
}
