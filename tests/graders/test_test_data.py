"""Training on test data is read from the code: the loop that steps an optimizer is
followed back through the names, datasets and calls that feed it. Each case is a
notebook's cells; the ones that must not be flagged are as important as the others
(flagging costs the saved-model and reported-accuracy credit)."""

from __future__ import annotations

import pytest

from graders.results import CellSummary
from graders.scoring.models.test_data import steps_on_test_data

STEP = "        loss = criterion(net(x), y)\n        loss.backward()\n        optimizer.step()\n"


def _cells(*sources: str) -> list[CellSummary]:
    return [CellSummary(index=i, kind="code", source=s) for i, s in enumerate(sources)]


CASES = {
    "a cell nested too deep to read beside a loop over the test loader": ([
        "total = " + " + ".join(f"w{i}" for i in range(700)),
        "for x, y in testloader:\n" + STEP.replace("        ", "    ")], "testloader"),
    "a loop over the test loader itself": (
        ["for epoch in range(2):\n    for x, y in testloader:\n" + STEP], "testloader"),
    "train and test concatenated behind an innocent name": ([
        "trainset = CIFAR10('.', train=True)\ntestset = CIFAR10('.', train=False)",
        "train_sub = restrict(trainset, 3000)\ntest_sub = restrict(testset, 1000)",
        "pool = ConcatDataset([train_sub, test_sub] + extra)\n"
        "poolloader = DataLoader(pool, batch_size=4, shuffle=True)",
        "for epoch in range(1):\n    for x, y in poolloader:\n" + STEP], "test_sub"),
    "the test split named only by train=False": ([
        "ts = torchvision.datasets.CIFAR10(root, train=False, transform=tf)\n"
        "b = Subset(ts, idx)\nldr = DataLoader(ConcatDataset([a, b]), batch_size=4)",
        "for epoch in range(1):\n    for i, (x, y) in enumerate(ldr):\n" + STEP],
        "torchvision.datasets.CIFAR10(root, train=False, transform=tf)"),
    "the test split passed positionally": ([
        "ts = datasets.CIFAR10('./data', False, transform=tf)\n"
        "ldr = DataLoader(ConcatDataset([tr, ts]), batch_size=4)",
        "for x, y in ldr:\n" + STEP.replace("        ", "    ")],
        "datasets.CIFAR10('./data', False, transform=tf)"),
    "the test split by a flag bound to False": ([
        "TRAIN = False\nds = MNIST('.', train=TRAIN)\nldr = DataLoader(ds, 100)",
        "for x, y in ldr:\n" + STEP.replace("        ", "    ")], "MNIST('.', train=TRAIN)"),
    "the test split by split='test'": ([
        "ds = load_split(root, split='test')\nldr = DataLoader(ds, 100)",
        "for x, y in ldr:\n" + STEP.replace("        ", "    ")],
        "load_split(root, split='test')"),
    "the test split by train=0 or train=not True, or SVHN's split passed positionally": ([
        "a = CIFAR10(root, train=0)\nb = CIFAR10(root, train=not True)\n"
        "c = SVHN(root, 'test')\nldr = DataLoader(ConcatDataset([a]), 4)",
        "for x, y in ldr:\n" + STEP.replace("        ", "    ")], "CIFAR10(root, train=0)"),
    "an attribute naming the test loader": ([
        "for x, y in data.test_loader:\n" + STEP.replace("        ", "    ")],
        "data.test_loader"),
    "a loader over the test loader's dataset": ([
        "ldr = DataLoader(testloader.dataset, batch_size=4, shuffle=True)",
        "for x, y in ldr:\n" + STEP.replace("        ", "    ")], "testloader"),
    "a training function called with the test loader": ([
        "def fit(model, loader, optimizer):\n    for x, y in loader:\n" + STEP,
        "fit(net, train_loader, optimizer)\nfit(net, test_loader, optimizer)"],
        "test_loader"),
    "a training function whose default is the test loader": ([
        "def fit(model, loader=test_loader):\n    for x, y in loader:\n" + STEP,
        "fit(net)"], "test_loader"),
    "a phase loop that trains on the test phase too": ([
        "def run_epoch(loader, train=True):\n    for x, y in loader:\n"
        "        out = net(x)\n        if train:\n            loss.backward()\n"
        "            optimizer.step()\n",
        "run_epoch(loaders['train'], train=True)\nrun_epoch(loaders['test'], train=True)"],
        "loaders['test']"),
}

NOT_FLAGGED = {
    # validation data spoil no test accuracy (and retraining on train + validation is
    # common practice)
    "train and validation merged for training": [
        "full = ConcatDataset([train_ds, val_ds])\nloader = DataLoader(full, batch_size=64)",
        "for x, y in loader:\n" + STEP.replace("        ", "    ")],
    "a split sized by val_size": [
        "full = CIFAR10('.', train=True)\nval_size = 900\ntrain_ds, val_ds = random_split("
        "full, [len(full) - val_size, val_size])\ntrainloader = DataLoader(train_ds, 4)",
        "for x, y in trainloader:\n" + STEP.replace("        ", "    ")],
    "loaders made together, the training one trained on": [
        "train_loader, test_loader = make_loaders(train_set, test_set)",
        "for x, y in train_loader:\n" + STEP.replace("        ", "    ")],
    "the first of a list of loaders": [
        "loaders = [train_loader, test_loader]",
        "for x, y in loaders[0]:\n" + STEP.replace("        ", "    ")],
    "a loop under `if opt is not None:`, called on the test loader without one": [
        "def run(model, loader, opt=None):\n    if opt is not None:\n"
        "        for x, y in loader:\n" + STEP.replace("optimizer", "opt") +
        "    else:\n        return evaluate(model, loader)\n",
        "opt = SGD(net.parameters(), lr=0.1)\nrun(net, train_loader, opt)\nrun(net, test_loader)"],
    "`if opt is None: continue` before the step": [
        "def run(model, loader, opt=None):\n    for x, y in loader:\n"
        "        loss = crit(model(x), y)\n        if opt is None:\n            continue\n"
        "        loss.backward()\n        opt.step()\n",
        "opt = SGD(net.parameters(), lr=0.1)\nrun(net, train_loader, opt)\nrun(net, test_loader)"],
    "`if not train: return` before the loop": [
        "def run(model, loader, opt, train=True):\n    if not train:\n"
        "        return evaluate(model, loader)\n    for x, y in loader:\n"
        + STEP.replace("optimizer", "opt"),
        "run(net, train_loader, opt)\nrun(net, test_loader, opt, train=False)"],
    "a training `run` redefined to evaluate before the test call": [
        "def run(model, loader):\n    for x, y in loader:\n" + STEP,
        "run(net, train_loader)",
        "def run(model, loader):\n    return evaluate(model, loader)",
        "run(net, test_loader)"],
    "a flag set to False before the test call": [
        "def run(loader, train):\n    for x, y in loader:\n        out = net(x)\n"
        "        if train:\n            loss.backward()\n            opt.step()\n",
        "flag = False\nrun(test_loader, flag)\nflag = True\nrun(train_loader, flag)"],

    "evaluated on test data, stepped only when told to train": [
        "def run_epoch(loader, train=True):\n    for x, y in loader:\n"
        "        out = net(x)\n        if train:\n            loss.backward()\n"
        "            optimizer.step()\n",
        "run_epoch(loaders['train'], train=True)\nacc = run_epoch(loaders['train'], "
        "train=False)\nacc = run_epoch(loaders['test'], train=False)"],
    "a mode compared with a string": [
        "def epoch(loader, mode='train'):\n    for x, y in loader:\n        out = net(x)\n"
        "        if mode == 'train':\n            loss.backward()\n            opt.step()\n",
        "epoch(trainloader)\nepoch(testloader, mode='eval')"],
    "the PyTorch tutorial's phases": [
        "dataloaders = {x: DataLoader(image_datasets[x], batch_size=4) for x in "
        "['train', 'val']}",
        "for phase in ['train', 'val']:\n    for inputs, labels in dataloaders[phase]:\n"
        "        outputs = model(inputs)\n        if phase == 'train':\n"
        "            loss.backward()\n            optimizer.step()\n"],
    "the test transform on the training data": [
        "trainset = CIFAR10('.', train=True, transform=test_transform)\n"
        "trainloader = DataLoader(trainset, batch_size=4)",
        "for x, y in trainloader:\n" + STEP.replace("        ", "    ")],
    "a name reused for the test loader after training": [
        "loader = DataLoader(trainset, batch_size=4)",
        "for x, y in loader:\n" + STEP.replace("        ", "    "),
        "loader = DataLoader(testset, batch_size=4)\nacc = evaluate(net, loader)"],
    "validation inside the epoch loop, without steps": [
        "for epoch in range(3):\n    for x, y in trainloader:\n" + STEP +
        "    for x, y in valloader:\n        val_loss += criterion(net(x), y).item()\n"],
    "an attribute of loaders made together": [
        "loaders = make_loaders(train_set, test_set)",
        "for x, y in loaders.train:\n" + STEP.replace("        ", "    ")],
    "the training split passed positionally": [
        "ds = datasets.CIFAR10('./data', True, transform=tf)\nldr = DataLoader(ds, 4)",
        "for x, y in ldr:\n" + STEP.replace("        ", "    ")],
    "EMNIST's split of letters": [
        "ds = EMNIST('.', split='letters', train=True)\nldr = DataLoader(ds, 4)",
        "for x, y in ldr:\n" + STEP.replace("        ", "    ")],
    "a guard that cannot be read": [
        "def run(loader, phase):\n    for x, y in loader:\n        if phase == MODE:\n"
        "            loss.backward()\n            optimizer.step()\n",
        "run(testloader, 'test')"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_training_loop_on_test_data_is_found_however_its_loader_is_named(name):
    sources, named = CASES[name]
    found = steps_on_test_data(_cells(*sources))
    assert found is not None, name
    assert found[1] == named


@pytest.mark.parametrize("name", sorted(NOT_FLAGGED))
def test_training_on_training_data_is_not_flagged(name):
    assert steps_on_test_data(_cells(*NOT_FLAGGED[name])) is None


def test_the_set_split_into_training_and_validation_is_no_validation_data():
    cells = _cells("train_val = KMNIST('.', train=True)\n"
                   "train_set, val_set = random_split(train_val, [50000, 10000])\n"
                   "train_loader = DataLoader(train_set, batch_size=64)",
                   "for x, y in train_loader:\n" + STEP.replace("        ", "    "))
    assert steps_on_test_data(cells) is None


def test_a_helper_that_trains_only_when_given_an_optimizer_is_not_flagged_on_test_data():
    """``train = opt is not None`` in the helper, then ``if train: opt.step()``: called on
    the test loader without an optimizer, it evaluates."""
    cells = _cells(
        "def run_epoch(model, loader, opt=None):\n    train = opt is not None\n"
        "    for xb, yb in loader:\n        loss = crit(model(xb), yb)\n"
        "        if train:\n            opt.zero_grad()\n            loss.backward()\n"
        "            opt.step()\n",
        "for epoch in range(10):\n    run_epoch(model, train_dl, opt)\n"
        "acc = run_epoch(model, test_dl)[1]")
    assert steps_on_test_data(cells) is None
    handed = _cells(cells[0].source, "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
                    "run_epoch(model, test_dl, opt)")
    assert steps_on_test_data(handed) == (1, "test_dl")


def test_a_step_in_the_else_branch_is_taken_when_the_test_is_false():
    cells = _cells(
        "def run(loader, evaluate=False):\n    for x, y in loader:\n        out = net(x)\n"
        "        if evaluate:\n            acc += 1\n        else:\n"
        "            loss.backward()\n            opt.step()\n",
        "run(test_loader, evaluate=True)\nrun(train_loader)")
    assert steps_on_test_data(cells) is None
    assert steps_on_test_data(_cells(cells[0].source, "run(test_loader)")) == (
        1, "test_loader")
