//! Where an authorization attempt ended, whichever login driver played the user's part (a leaf:
//! the drivers in [`super::login`] and [`super::browser`] both return it).

use url::Url;

/// Where an authorization attempt ended.
#[derive(Clone, Debug)]
pub enum AuthzEnd {
    /// A redirect to one of the callbacks (read from `Location`, never followed).
    Callback { location: Url, evidence: Vec<usize> },
    /// The AS stopped on a page (error page, or a page without a usable form).
    Page {
        status: u16,
        body: String,
        evidence: Vec<usize>,
    },
    /// The driver itself could not proceed.
    Broken(String),
}
