//! The one place where opaque C handles become Rust values and back.
//!
//! Every opaque C type is a zero-sized struct tied to the Rust value it stands for by
//! [`Castable`]; its `Ownership` says how the handle holds that value. The helpers here
//! do every `Box::into_raw`/`Box::from_raw`, so a handle can only be turned back into
//! the type it was made from, and a borrowed handle can never be freed: the helpers
//! for taking ownership exist only for `OwnershipBox` types.

use std::ffi::{c_char, CStr};

/// Ties an opaque C type to the Rust value behind it.
pub(crate) trait Castable {
    /// How a handle holds its value: [`OwnershipBox`] (the C caller owns a heap
    /// allocation and frees it with the type's `_free`).
    type Ownership;
    /// The Rust value behind the handle.
    type RustType;
}

/// The handle owns a `Box<RustType>`, made by [`to_boxed_mut_ptr`] and released
/// exactly once by [`try_take_box`].
pub(crate) struct OwnershipBox;

/// Moves `value` to the heap and hands out the raw handle; the C caller owns it.
pub(crate) fn to_boxed_mut_ptr<C>(value: C::RustType) -> *mut C
where
    C: Castable<Ownership = OwnershipBox>,
{
    Box::into_raw(Box::new(value)).cast()
}

/// Writes a new boxed handle to `dst`. `dst` must be non-NULL and writable.
pub(crate) unsafe fn set_boxed_mut_ptr<C>(dst: *mut *mut C, value: C::RustType)
where
    C: Castable<Ownership = OwnershipBox>,
{
    // SAFETY: the caller checked dst; the write does not read the old value.
    unsafe { dst.write(to_boxed_mut_ptr(value)) }
}

/// Takes back ownership of a boxed handle; `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or came from [`to_boxed_mut_ptr`] for this type and was not freed.
pub(crate) unsafe fn try_take_box<C>(ptr: *mut C) -> Option<Box<C::RustType>>
where
    C: Castable<Ownership = OwnershipBox>,
{
    if ptr.is_null() {
        None
    } else {
        // SAFETY: per the contract above.
        Some(unsafe { Box::from_raw(ptr.cast()) })
    }
}

/// Borrows the value behind a handle; `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or a live handle of this type, not mutated during `'a`.
pub(crate) unsafe fn try_ref<'a, C: Castable>(ptr: *const C) -> Option<&'a C::RustType> {
    // SAFETY: per the contract above.
    unsafe { ptr.cast::<C::RustType>().as_ref() }
}

/// Borrows the value behind a boxed handle mutably; `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or a live handle of this type, not used elsewhere during `'a`.
pub(crate) unsafe fn try_mut<'a, C>(ptr: *mut C) -> Option<&'a mut C::RustType>
where
    C: Castable<Ownership = OwnershipBox>,
{
    // SAFETY: per the contract above.
    unsafe { ptr.cast::<C::RustType>().as_mut() }
}

/// A NUL-terminated C string as UTF-8: `Err(None)` for NULL, `Err(Some(()))` for bad UTF-8.
///
/// # Safety
/// `ptr` is NULL or points at a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn try_str<'a>(ptr: *const c_char) -> Result<&'a str, Option<()>> {
    if ptr.is_null() {
        return Err(None);
    }
    // SAFETY: per the contract above.
    unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|_| Some(()))
}

/// Borrows a handle's value, or returns from the calling function (or the panic
/// boundary's closure) with the return type's NULL answer and the last error set.
macro_rules! try_ref_from_ptr {
    ($ptr:ident) => {
        // SAFETY: a non-NULL handle is trusted to be live and of its type (the C contract).
        match unsafe { $crate::ffi::cast::try_ref($ptr) } {
            Some(value) => value,
            None => return $crate::ffi::error::null_argument(stringify!($ptr)),
        }
    };
}

/// [`try_ref_from_ptr`], mutably.
macro_rules! try_mut_from_ptr {
    ($ptr:ident) => {
        // SAFETY: a non-NULL handle is trusted to be live, of its type and not shared.
        match unsafe { $crate::ffi::cast::try_mut($ptr) } {
            Some(value) => value,
            None => return $crate::ffi::error::null_argument(stringify!($ptr)),
        }
    };
}

/// Borrows a C string as `&str`, or returns `RLC_E_INVALID_ARGUMENT` (NULL,
/// or not UTF-8) from the calling function with the last error set.
macro_rules! try_str_from_ptr {
    ($ptr:ident) => {
        // SAFETY: a non-NULL string is trusted to be NUL-terminated (the C contract).
        match unsafe { $crate::ffi::cast::try_str($ptr) } {
            Ok(value) => value,
            Err(None) => return $crate::ffi::error::null_argument(stringify!($ptr)),
            Err(Some(())) => return $crate::ffi::error::not_utf8(stringify!($ptr)),
        }
    };
}

/// Checks that an output pointer is non-NULL, or returns `RLC_E_INVALID_ARGUMENT`.
/// The pointer is written (with `.write`) only once the call has succeeded.
macro_rules! check_out_ptr {
    ($ptr:ident) => {
        if $ptr.is_null() {
            return $crate::ffi::error::null_argument(stringify!($ptr));
        }
    };
}

pub(crate) use {check_out_ptr, try_mut_from_ptr, try_ref_from_ptr, try_str_from_ptr};
