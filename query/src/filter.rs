//! Vehicle attribute filters: each given attribute must equal the read's, ignoring case
//! and surrounding spaces ("a silver Camry" matches `{"color": "Silver", "model": "camry"}`).

use sightline_storage::record::PlateRead;

/// The attributes a search asks for; `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VehicleFilter {
    /// Manufacturer.
    pub make: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Colour.
    pub color: Option<String>,
    /// Body type.
    pub kind: Option<String>,
}

fn fold(text: &str) -> String {
    text.trim().to_lowercase()
}

impl VehicleFilter {
    /// A filter from the asked attributes (blank ones are ignored); `None` when nothing
    /// is asked.
    pub fn new(
        make: Option<&str>,
        model: Option<&str>,
        color: Option<&str>,
        kind: Option<&str>,
    ) -> Option<Self> {
        let norm = |v: Option<&str>| v.map(fold).filter(|v| !v.is_empty());
        let filter = VehicleFilter {
            make: norm(make),
            model: norm(model),
            color: norm(color),
            kind: norm(kind),
        };
        (filter != VehicleFilter::default()).then_some(filter)
    }

    /// Whether a read's vehicle has every asked attribute.
    pub fn matches(&self, read: &PlateRead) -> bool {
        let vehicle = read.vehicle.as_ref();
        let check = |want: &Option<String>, have: Option<&String>| match want {
            None => true,
            Some(want) => have.is_some_and(|have| fold(have) == *want),
        };
        check(&self.make, vehicle.and_then(|v| v.make.as_ref()))
            && check(&self.model, vehicle.and_then(|v| v.model.as_ref()))
            && check(&self.color, vehicle.and_then(|v| v.color.as_ref()))
            && check(&self.kind, vehicle.and_then(|v| v.kind.as_ref()))
    }
}
