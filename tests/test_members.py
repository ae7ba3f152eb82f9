"""`recurrax.models.map_members`: one member after the other computes what ``vmap`` over the members does,
values and gradients, with per-member and shared arguments and None in place of keys."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from recurrax.models import LSTM, map_members, member_at, stack_members


def test_map_members_equals_vmap_values_and_gradients(key):
    k_members, k_x, k_h = jax.random.split(key, 3)
    members = stack_members(3, lambda k: LSTM(2, 5, num_layers=2, key=k), key=k_members)
    xs = jax.random.normal(k_x, (3, 4, 7, 2))  # one batch per member
    shift = jax.random.normal(k_h, (5,))  # the same for every member

    def loss(member, x, scale, offset):
        assert scale is None  # a None per-member argument arrives as None
        return jnp.sum(jnp.tanh(member(x)[0] + offset.reshape(1, 1, -1)) ** 2, axis=(1, 2))  # [B]

    by_member = map_members(loss, 3, members, xs, None, shared=(shift,))
    vmap_loss = eqx.filter_vmap(lambda m, x: loss(m, x, None, shift), in_axes=(eqx.if_array(0), 0))
    vmapped = vmap_loss(members, xs)
    assert by_member.shape == (3, 4)
    np.testing.assert_allclose(by_member, vmapped, rtol=1e-6, atol=1e-6)
    for m in range(3):  # row m is member m alone
        np.testing.assert_allclose(by_member[m], loss(member_at(members, m), xs[m], None, shift), rtol=1e-6)

    grad_map = eqx.filter_grad(lambda ms: jnp.sum(map_members(loss, 3, ms, xs, None, shared=(shift,)) ** 2))(members)
    grad_vmap = eqx.filter_grad(lambda ms: jnp.sum(vmap_loss(ms, xs) ** 2))(members)
    for a, b in zip(jax.tree.leaves(grad_map), jax.tree.leaves(grad_vmap)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_map_members_stacks_every_output_leaf(key):
    members = stack_members(2, lambda k: LSTM(1, 3, key=k), key=key)
    out = map_members(lambda m, x: {"ys": m(x)[0], "n": jnp.sum(x)}, 2, members, jnp.ones((2, 1, 4, 1)))
    assert out["ys"].shape == (2, 1, 4, 3) and out["n"].shape == (2,)
    np.testing.assert_allclose(out["n"], [4.0, 4.0])
