//! The two kinds of model foodqc can judge with, and how one is chosen.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which features a model works on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Hand-made colour, texture and shape features (fast, small).
    #[default]
    Classical,
    /// Features of an ImageNet-pretrained network (EfficientNet-Lite0), learned on a large
    /// image corpus rather than made for one product.
    Deep,
}

impl Tier {
    /// Both tiers, the faster first (ties go to it).
    pub const ALL: [Tier; 2] = [Tier::Classical, Tier::Deep];

    /// The name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Classical => "classical",
            Tier::Deep => "deep",
        }
    }
}

impl FromStr for Tier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .into_iter()
            .find(|t| t.as_str() == s.trim())
            .ok_or_else(|| format!("unknown tier `{}` (classical or deep)", s.trim()))
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `--tier`: one tier, or the better of the two by validation on the training data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TierChoice {
    /// Only the classical tier.
    Classical,
    /// Only the deep tier.
    Deep,
    /// Both, keeping the better by validation on the training data (the faster on a tie).
    #[default]
    Auto,
}

impl TierChoice {
    /// The tiers this choice trains.
    pub fn tiers(self) -> Vec<Tier> {
        match self {
            TierChoice::Classical => vec![Tier::Classical],
            TierChoice::Deep => vec![Tier::Deep],
            TierChoice::Auto => Tier::ALL.to_vec(),
        }
    }
}

impl TierChoice {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            TierChoice::Classical => "classical",
            TierChoice::Deep => "deep",
            TierChoice::Auto => "auto",
        }
    }
}

impl FromStr for TierChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "classical" => Ok(TierChoice::Classical),
            "deep" => Ok(TierChoice::Deep),
            "auto" => Ok(TierChoice::Auto),
            other => Err(format!("unknown tier `{other}` (classical, deep or auto)")),
        }
    }
}

/// Validation scores closer than this are a tie, settled for the faster tier: the
/// difference is within what another fold assignment would change.
pub const TIE_MARGIN: f64 = 0.005;

/// The tier to keep from validation scores (higher is better), in [`Tier::ALL`] order of
/// preference on a tie. Non-finite scores never win. `None` when `scores` is empty.
pub fn pick_tier(scores: &[(Tier, f64)]) -> Option<Tier> {
    let best = scores
        .iter()
        .filter(|(_, s)| s.is_finite())
        .map(|(_, s)| *s)
        .fold(f64::NEG_INFINITY, f64::max);
    if !best.is_finite() {
        return scores.first().map(|(t, _)| *t);
    }
    Tier::ALL.into_iter().find(|t| {
        scores
            .iter()
            .any(|(u, s)| u == t && s.is_finite() && *s >= best - TIE_MARGIN)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_faster_tier_wins_a_tie_and_nan_never_wins() {
        use Tier::*;
        assert_eq!(pick_tier(&[(Classical, 0.90), (Deep, 0.95)]), Some(Deep));
        assert_eq!(
            pick_tier(&[(Classical, 0.948), (Deep, 0.95)]),
            Some(Classical)
        );
        assert_eq!(pick_tier(&[(Classical, f64::NAN), (Deep, 0.5)]), Some(Deep));
        assert_eq!(pick_tier(&[(Deep, 0.5)]), Some(Deep));
        assert_eq!(pick_tier(&[]), None);
        assert_eq!("auto".parse::<TierChoice>(), Ok(TierChoice::Auto));
        assert!("gpu".parse::<TierChoice>().unwrap_err().contains("`gpu`"));
        assert_eq!(TierChoice::Auto.tiers(), vec![Classical, Deep]);
        assert_eq!("deep".parse::<Tier>(), Ok(Deep));
        assert!("auto".parse::<Tier>().unwrap_err().contains("`auto`"));
    }
}
