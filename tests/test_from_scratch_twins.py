"""Each from-scratch piece the book teaches is checked against its library twin."""

import torch
from torch import nn

from d2lab.models.closed_form import least_squares
from d2lab.models.linear import LinearNet, LinearScratch
from d2lab.optim.sgd import ScratchSGD


def test_manual_gradient_matches_autograd():
    torch.manual_seed(0)
    net = LinearScratch(in_features=4)
    x, y = torch.randn(32, 4), torch.randn(32, 1)
    loss = 0.5 * ((net(x) - y) ** 2).mean()
    loss.backward()
    auto = net.w.grad.clone(), net.b.grad.clone()
    with torch.no_grad():
        net.set_gradients(x, (net(x) - y) / y.numel())
    torch.testing.assert_close(net.w.grad, auto[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(net.b.grad, auto[1], atol=1e-6, rtol=0)


def test_scratch_sgd_follows_torch_sgd_exactly():
    torch.manual_seed(0)
    a = LinearNet(in_features=3)
    b = LinearNet(in_features=3)
    b.load_state_dict(a.state_dict())
    opt_a, opt_b = ScratchSGD(a.parameters(), lr=0.1), torch.optim.SGD(b.parameters(), lr=0.1)
    for _ in range(50):
        x, y = torch.randn(8, 3), torch.randn(8, 1)
        for net, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            nn.functional.mse_loss(net(x), y).backward()
            opt.step()
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.equal(p, q)


def test_closed_form_matches_lstsq():
    torch.manual_seed(0)
    x = torch.randn(200, 5)
    y = x @ torch.randn(5, 1) + 0.3 + 0.1 * torch.randn(200, 1)
    w, b = least_squares(x, y)
    a = torch.cat([x, torch.ones(200, 1)], dim=1).double()
    theta = torch.linalg.lstsq(a, y.double()).solution.flatten().float()
    torch.testing.assert_close(w, theta[:-1], atol=1e-5, rtol=0)
    torch.testing.assert_close(b, theta[-1:], atol=1e-5, rtol=0)


def test_linear_net_initialisation_is_the_books():
    torch.manual_seed(0)
    net = LinearNet(in_features=10_000)
    w, b = net.weight_and_bias()
    assert abs(w.std().item() - 0.01) < 0.001 and abs(w.mean().item()) < 0.001
    assert torch.count_nonzero(b) == 0
