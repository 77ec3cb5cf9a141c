//! Vehicles and plates: issuing regions, makes and colours, and how OCR misreads plates.

use std::collections::{HashMap, HashSet};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use super::{round_to, weighted_index};

/// A plate-issuing region with its passenger plate formats and share of traffic.
/// Format symbols: `L` letter (no I, O or Q), `D` digit, `N` digit 7–9; anything else is literal.
pub(super) struct Region {
    pub(super) code: &'static str,
    pub(super) state: &'static str,
    pub(super) weight: f64,
    pub(super) formats: &'static [(&'static str, f64)],
}

pub(super) static REGIONS: [Region; 5] = [
    Region {
        code: "US-IL",
        state: "Illinois",
        weight: 86.0,
        formats: &[("LL DDDDD", 85.0), ("LDD DDDD", 15.0)],
    },
    Region {
        code: "US-IN",
        state: "Indiana",
        weight: 6.0,
        formats: &[("DDDLLL", 1.0)],
    },
    Region {
        code: "US-WI",
        state: "Wisconsin",
        weight: 4.0,
        formats: &[("LLL-DDDD", 1.0)],
    },
    Region {
        code: "US-MI",
        state: "Michigan",
        weight: 3.0,
        formats: &[("LLL DDDD", 1.0)],
    },
    Region {
        code: "US-CA",
        state: "California",
        weight: 1.0,
        formats: &[("NLLLDDD", 1.0)],
    },
];
pub(super) const IL: usize = 0;
pub(super) const IN: usize = 1;
pub(super) const WI: usize = 2;

/// Plate letters: real issuers skip I, O and Q because they read as 1 and 0.
pub(super) const PLATE_LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

/// (make, model, body type, share of traffic)
pub(super) static MODELS: [(&str, &str, &str, f64); 35] = [
    ("Toyota", "Camry", "sedan", 6.0),
    ("Toyota", "Corolla", "sedan", 5.0),
    ("Toyota", "RAV4", "suv", 6.0),
    ("Toyota", "Prius", "hatchback", 2.0),
    ("Toyota", "Sienna", "van", 2.0),
    ("Honda", "Civic", "sedan", 5.0),
    ("Honda", "Accord", "sedan", 4.0),
    ("Honda", "CR-V", "suv", 5.0),
    ("Honda", "Fit", "hatchback", 1.0),
    ("Honda", "Odyssey", "van", 2.0),
    ("Ford", "F-150", "pickup", 5.0),
    ("Ford", "Escape", "suv", 4.0),
    ("Ford", "Explorer", "suv", 4.0),
    ("Ford", "Transit", "van", 2.0),
    ("Chevrolet", "Malibu", "sedan", 3.0),
    ("Chevrolet", "Equinox", "suv", 4.0),
    ("Chevrolet", "Silverado", "pickup", 3.0),
    ("Chevrolet", "Express", "van", 1.0),
    ("Tesla", "Model 3", "sedan", 3.0),
    ("Tesla", "Model Y", "suv", 3.0),
    ("Nissan", "Altima", "sedan", 4.0),
    ("Nissan", "Rogue", "suv", 4.0),
    ("Jeep", "Cherokee", "suv", 3.0),
    ("Jeep", "Grand Cherokee", "suv", 3.0),
    ("Hyundai", "Elantra", "sedan", 3.0),
    ("Hyundai", "Tucson", "suv", 3.0),
    ("Kia", "Soul", "hatchback", 2.0),
    ("Kia", "Forte", "sedan", 2.0),
    ("Volkswagen", "Golf", "hatchback", 1.0),
    ("Subaru", "Outback", "suv", 2.0),
    ("Mazda", "CX-5", "suv", 2.0),
    ("Ram", "1500", "pickup", 2.0),
    ("Ram", "ProMaster", "van", 1.0),
    ("Chrysler", "Pacifica", "van", 2.0),
    ("Mercedes-Benz", "Sprinter", "van", 1.0),
];

pub(super) static COLORS: [(&str, f64); 11] = [
    ("white", 24.0),
    ("black", 20.0),
    ("gray", 17.0),
    ("silver", 12.0),
    ("blue", 10.0),
    ("red", 9.0),
    ("green", 2.0),
    ("brown", 2.0),
    ("beige", 2.0),
    ("yellow", 1.0),
    ("orange", 1.0),
];

/// A vehicle with hand-picked identity (the FACTS vehicles and their companions).
pub(super) struct Special {
    pub(super) plate: &'static str,
    pub(super) region: usize,
    pub(super) make: &'static str,
    pub(super) model: &'static str,
    pub(super) kind: &'static str,
    pub(super) color: &'static str,
}

/// Upper case, letters and digits only: how plates are compared.
pub(super) fn normalize(plate: &str) -> String {
    plate
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The character an OCR engine most often confuses `c` with.
pub(super) fn ocr_confusion(c: char) -> Option<char> {
    Some(match c {
        '0' => 'O',
        'O' => '0',
        '1' => 'I',
        'I' => '1',
        '8' => 'B',
        'B' => '8',
        '5' => 'S',
        'S' => '5',
        '2' => 'Z',
        'Z' => '2',
        '6' => 'G',
        'G' => '6',
        _ => return None,
    })
}

pub(super) struct Vehicle {
    /// The plate as printed, in its region's format ("AB 12345").
    pub(super) plate: String,
    pub(super) region: usize,
    pub(super) make: &'static str,
    pub(super) model: &'static str,
    pub(super) kind: &'static str,
    pub(super) color: &'static str,
}

pub(super) struct Ocr {
    pub(super) taken: HashSet<String>,
    pub(super) variant_owner: HashMap<String, usize>,
}

impl Ocr {
    /// A one-character confusion of `plate`, if one is available that stays unambiguous.
    pub(super) fn misread(
        &mut self,
        rng: &mut StdRng,
        vehicle: usize,
        plate: &str,
    ) -> Option<String> {
        let chars: Vec<char> = plate.chars().collect();
        let mut positions: Vec<usize> = (0..chars.len())
            .filter(|&i| ocr_confusion(chars[i]).is_some())
            .collect();
        positions.shuffle(rng);
        for i in positions {
            let mut wrong = chars.clone();
            wrong[i] = ocr_confusion(chars[i]).unwrap_or(chars[i]);
            let text: String = wrong.into_iter().collect();
            let key = normalize(&text);
            if self.taken.contains(&key)
                || self.variant_owner.get(&key).is_some_and(|&o| o != vehicle)
            {
                continue;
            }
            self.variant_owner.insert(key, vehicle);
            return Some(text);
        }
        None
    }
}

pub(super) fn random_plate(rng: &mut StdRng, region: &Region) -> String {
    let weights: Vec<f64> = region.formats.iter().map(|f| f.1).collect();
    let format = region.formats[weighted_index(rng, &weights)].0;
    format
        .chars()
        .map(|c| match c {
            'L' => char::from(PLATE_LETTERS[rng.random_range(0..PLATE_LETTERS.len())]),
            'D' => char::from(b'0' + rng.random_range(0..10u8)),
            'N' => char::from(b'0' + rng.random_range(7..10u8)),
            other => other,
        })
        .collect()
}

pub(super) fn special_vehicle(s: &Special) -> Vehicle {
    Vehicle {
        plate: s.plate.to_string(),
        region: s.region,
        make: s.make,
        model: s.model,
        kind: s.kind,
        color: s.color,
    }
}

/// Confidence of a correct read: mostly 0.9+, occasionally down to about 0.7.
pub(super) fn good_confidence(rng: &mut StdRng) -> f64 {
    round_to(0.99 - 0.30 * rng.random::<f64>().powi(5), 2)
}

/// Confidence of a misread: 0.50–0.74.
pub(super) fn poor_confidence(rng: &mut StdRng) -> f64 {
    round_to(0.50 + 0.24 * rng.random::<f64>(), 2)
}
