//! The panic boundary: one macro wraps the body of every exported function, and two
//! traits say what a panic or a NULL argument turns into for each return type.

use std::ffi::{c_char, c_void};

use super::error::rlc_result;

/// What an exported function returns when its body panicked.
pub(crate) trait PanicOrDefault {
    fn value() -> Self;
}

/// What an exported function returns when a required pointer argument is NULL.
pub(crate) trait NullParameterOrDefault {
    fn value() -> Self;
}

impl PanicOrDefault for rlc_result {
    fn value() -> Self {
        rlc_result::RLC_E_PANIC
    }
}

impl NullParameterOrDefault for rlc_result {
    fn value() -> Self {
        rlc_result::RLC_E_INVALID_ARGUMENT
    }
}

/// Types whose answer to both a panic and a NULL argument is the same "nothing".
macro_rules! default_for {
    ($($ty:ty => $value:expr),* $(,)?) => {$(
        impl PanicOrDefault for $ty {
            fn value() -> Self {
                $value
            }
        }
        impl NullParameterOrDefault for $ty {
            fn value() -> Self {
                $value
            }
        }
    )*};
}

default_for! {
    () => (),
    bool => false,
    u16 => 0,
    u32 => 0,
    u64 => 0,
    usize => 0,
    *const c_char => std::ptr::null(),
    *const u8 => std::ptr::null(),
    *mut c_void => std::ptr::null_mut(),
}

impl<T> PanicOrDefault for *mut T
where
    T: super::cast::Castable,
{
    fn value() -> Self {
        std::ptr::null_mut()
    }
}

impl<T> NullParameterOrDefault for *mut T
where
    T: super::cast::Castable,
{
    fn value() -> Self {
        std::ptr::null_mut()
    }
}

/// Runs an exported function's body under `catch_unwind`. A panic never unwinds
/// into C: it sets the thread's last error and becomes the return type's
/// [`PanicOrDefault`] value (`RLC_E_PANIC`, NULL, 0, false). `return` inside the
/// body returns from the guarded closure, so early exits work as usual.
macro_rules! ffi_panic_boundary {
    ( $($body:tt)* ) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| { $($body)* })) {
            Ok(value) => value,
            Err(payload) => {
                $crate::ffi::error::set_last_error_panic(&*payload);
                <_ as $crate::ffi::panic::PanicOrDefault>::value()
            }
        }
    };
}

pub(crate) use ffi_panic_boundary;

#[cfg(test)]
mod tests {
    use std::ffi::{c_char, CStr};

    use crate::ffi::error::{rlc_last_error, rlc_result};

    fn boom() -> bool {
        panic!("boom at the boundary")
    }

    fn returns_code() -> rlc_result {
        ffi_panic_boundary! {
            if boom() {
                return rlc_result::RLC_E_IO;
            }
            rlc_result::RLC_OK
        }
    }

    fn returns_pointer() -> *const c_char {
        ffi_panic_boundary! {
            if boom() {
                return b"unreachable\0".as_ptr().cast();
            }
            std::ptr::null()
        }
    }

    fn returns_count() -> usize {
        ffi_panic_boundary! { usize::from(boom()) + 1 }
    }

    fn last_error() -> String {
        let mut buf = [0 as c_char; 256];
        rlc_last_error(buf.as_mut_ptr(), buf.len());
        unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
    }

    #[test]
    fn a_panic_becomes_the_return_types_default_and_sets_the_last_error() {
        assert_eq!(returns_code(), rlc_result::RLC_E_PANIC);
        assert!(last_error().contains("boom at the boundary"), "{}", last_error());
        assert!(returns_pointer().is_null());
        assert_eq!(returns_count(), 0);
    }
}
