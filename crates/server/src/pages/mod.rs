//! The server-rendered pages, by audience: `home` (the landing page at `/`), `portal` (insured
//! persons), `counter` (an institution's counter), `agency` (operators). `html` is their
//! shared kit.

pub mod agency;
pub mod counter;
pub mod home;
pub(crate) mod html;
pub mod portal;
