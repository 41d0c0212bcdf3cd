"""Training helpers with the interface of the EE-411 lab's ``training_utils`` module,
written for ml-autograder and shipped next to every EE-411 notebook it grades.

    train_epoch(model, train_dataloader, optimizer, device) -> mean loss of the epoch
    fit(model, train_dataloader, optimizer, epochs, device) -> per-epoch losses
    predict(model, test_dataloader, device, verbose=True) -> (test_loss, accuracy %)
    visualize_images(dataloader) -> shows the first 10 images, 5 per row
    plot_loss(losses, ylim=None) -> plots the losses against the epochs
"""

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F


def train_epoch(model, train_dataloader, optimizer, device):
    """One pass over the training data with cross-entropy; the epoch's mean loss."""
    model.train()
    total, batches = 0.0, 0
    for data, target in train_dataloader:
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()
        total += loss.item()
        batches += 1
    return total / max(batches, 1)


def fit(model, train_dataloader, optimizer, epochs, device):
    """Train for ``epochs`` epochs, printing each epoch's loss; the list of losses."""
    losses = []
    for epoch in range(epochs):
        loss = train_epoch(model, train_dataloader, optimizer, device)
        print(f"Epoch {epoch}: Loss={loss}")
        losses.append(loss)
    return losses


def predict(model, test_dataloader, device, verbose=True):
    """Mean cross-entropy and accuracy (in percent) of the model on the data."""
    model.eval()
    loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for data, target in test_dataloader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            loss += F.cross_entropy(output, target, reduction="sum").item()
            correct += (output.argmax(dim=1) == target).sum().item()
            seen += len(target)
    test_loss = loss / max(seen, 1)
    accuracy = 100.0 * correct / max(seen, 1)
    if verbose:
        print(f"Test set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{seen} "
              f"({accuracy:.0f}%)")
    return test_loss, accuracy


def visualize_images(dataloader):
    """The first 10 images of the first batch in a 5-wide grid, titled by label."""
    images, labels = next(iter(dataloader))
    _, axes = plt.subplots(2, 5, figsize=(10, 4))
    for ax, image, label in zip(axes.flat, images[:10], labels[:10], strict=False):
        ax.imshow(image.squeeze().cpu().numpy(), cmap="gray")
        ax.set_title(str(int(label)))
        ax.axis("off")
    plt.show()


def plot_loss(losses, ylim=None):
    """The training losses against the epochs."""
    plt.figure()
    plt.plot(range(len(losses)), losses)
    plt.xlabel("epoch")
    plt.ylabel("loss")
    if ylim is not None:
        plt.ylim(ylim)
    plt.show()
