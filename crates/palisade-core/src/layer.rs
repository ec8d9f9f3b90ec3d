//! Layers: middleware that wraps a provider in another provider, and the two
//! ways to compose them.
//!
//! # Order
//!
//! [`ProviderExt::layer`] wraps what it is called on, so in
//! `provider.layer(a).layer(b)` the call goes through **`b`, then `a`, then the
//! provider**: the chain reads inside-out, innermost first.
//!
//! [`LayerStack`] reads the other way, like a diagram of the call:
//! `LayerStack::new().push(b).push(a).wrap(provider)` builds the same thing,
//! outermost first. Use whichever reads better; both build plain nested types
//! with no dynamic dispatch between layers.

use crate::provider::Provider;

/// Wraps a provider in another provider that adds behaviour (limits, retries,
/// breakers, …). The analogue of `tower::Layer` for [`Provider`].
pub trait Layer<P> {
    /// The wrapping provider.
    type Provider: Provider;

    /// Wraps `inner`.
    fn layer(&self, inner: P) -> Self::Provider;
}

/// Extension methods for every [`Provider`].
pub trait ProviderExt: Provider + Sized {
    /// Wraps `self` in `layer`; the layer runs **before** `self` on every call.
    /// Chained calls therefore read innermost first (see the module docs).
    fn layer<L: Layer<Self>>(self, layer: L) -> L::Provider {
        layer.layer(self)
    }
}

impl<P: Provider + Sized> ProviderExt for P {}

/// The layer that does nothing: the start of a [`LayerStack`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl<P: Provider> Layer<P> for Identity {
    type Provider = P;

    fn layer(&self, inner: P) -> P {
        inner
    }
}

/// Two layers, `outer` around `inner`.
#[derive(Debug, Clone)]
pub struct Stack<Inner, Outer> {
    inner: Inner,
    outer: Outer,
}

impl<P, Inner, Outer> Layer<P> for Stack<Inner, Outer>
where
    Inner: Layer<P>,
    Outer: Layer<Inner::Provider>,
{
    type Provider = Outer::Provider;

    fn layer(&self, provider: P) -> Self::Provider {
        self.outer.layer(self.inner.layer(provider))
    }
}

/// Builds a stack of layers outermost first, then wraps a provider in it.
///
/// ```
/// # use palisade_core::{LayerStack, Identity};
/// // `LayerStack::new().push(a).push(b).wrap(p)`: a call runs a, then b, then p.
/// let stack = LayerStack::new().push(Identity).push(Identity);
/// # let _ = stack;
/// ```
#[derive(Debug, Clone)]
pub struct LayerStack<L> {
    layers: L,
}

impl LayerStack<Identity> {
    /// An empty stack.
    pub fn new() -> Self {
        Self { layers: Identity }
    }
}

impl Default for LayerStack<Identity> {
    fn default() -> Self {
        Self::new()
    }
}

impl<L> LayerStack<L> {
    /// Adds `layer` **inside** the layers pushed so far: it runs after them.
    pub fn push<N>(self, layer: N) -> LayerStack<Stack<N, L>> {
        LayerStack {
            layers: Stack {
                inner: layer,
                outer: self.layers,
            },
        }
    }

    /// Wraps `provider` in every pushed layer.
    pub fn wrap<P>(&self, provider: P) -> L::Provider
    where
        L: Layer<P>,
    {
        self.layers.layer(provider)
    }
}

impl<P, L: Layer<P>> Layer<P> for LayerStack<L> {
    type Provider = L::Provider;

    fn layer(&self, inner: P) -> Self::Provider {
        self.layers.layer(inner)
    }
}
