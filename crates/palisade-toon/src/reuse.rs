//! Per-thread reuse of the decoder's two line lists (the scanner's lines and
//! the tape's line index). Both hold borrows of one input, so they cannot be
//! kept as they are; an emptied list is re-typed to `'static` borrows (no
//! element survives, only the allocation) and back to the next input's.
//! Fresh lists of this size cost more in `malloc` and page faults than the
//! scanning that fills them.

use std::cell::RefCell;

use crate::scan::Line;

/// Largest list (in elements) kept for the next decode on a thread: 65,536
/// lines, at most 3 MiB of lines and 1.5 MiB of marks.
const CACHED_LIMIT: usize = 1 << 16;

/// One line's place on the tape: (first event index, line number, raw text).
pub(crate) type LineMark<'a> = (u32, u32, &'a str);

thread_local! {
    static LINES: RefCell<Vec<Line<'static>>> = const { RefCell::new(Vec::new()) };
    static MARKS: RefCell<Vec<LineMark<'static>>> = const { RefCell::new(Vec::new()) };
}

/// The allocation of `v`, emptied, as a list of another element type of the
/// same layout. `filter_map` over an empty list collects in place (the
/// standard library reuses the buffer when size and alignment agree); when
/// they did not, the result is merely a fresh empty list.
fn retype<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

fn take<T>(cache: &'static std::thread::LocalKey<RefCell<Vec<T>>>) -> Vec<T> {
    cache
        .try_with(|c| {
            c.try_borrow_mut()
                .map(|mut v| std::mem::take(&mut *v))
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

fn give<T>(cache: &'static std::thread::LocalKey<RefCell<Vec<T>>>, v: Vec<T>) {
    if v.capacity() > CACHED_LIMIT {
        return;
    }
    let _ = cache.try_with(|c| {
        if let Ok(mut slot) = c.try_borrow_mut()
            && slot.capacity() < v.capacity()
        {
            *slot = v;
        }
    });
}

/// An empty line list, reusing this thread's last one.
pub(crate) fn lines<'a>() -> Vec<Line<'a>> {
    take(&LINES)
}

/// Returns a line list's allocation to this thread.
pub(crate) fn recycle_lines(v: Vec<Line<'_>>) {
    give(&LINES, retype(v));
}

/// An empty line index, reusing this thread's last one.
pub(crate) fn marks<'a>() -> Vec<LineMark<'a>> {
    take(&MARKS)
}

/// Returns a line index's allocation to this thread.
pub(crate) fn recycle_marks(v: Vec<LineMark<'_>>) {
    give(&MARKS, retype(v));
}
