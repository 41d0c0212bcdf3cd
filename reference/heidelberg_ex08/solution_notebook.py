# %% [markdown]
# # Exercise sheet 08 -- reference notebook
# ## 1 Reverse Mode Automatic Differentiation
# Give the forward trace at the given x.

# %%
import math

x1, x2 = 1.5, 0.5
v_m1, v0 = x1, x2
v1 = v_m1 / v0
v2 = math.sin(v1)
v3 = math.exp(v0)
v4 = v1 - v3
v5 = v2 + v4
v6 = v5 * v4
y_value = v6
for name, value in [("v1", v1), ("v2", v2), ("v3", v3), ("v4", v4), ("v5", v5), ("v6", v6)]:
    print(f"{name} = {value:.4f}")

# %% [markdown]
# Give the backward/reverse trace.

# %%
v6_bar = 1.0
v5_bar = v6_bar * v4
v4_bar = v6_bar * v5 + v5_bar
v2_bar = v5_bar
v3_bar = -v4_bar
v1_bar = v4_bar + v2_bar * math.cos(v1)
x2_bar = v3_bar * math.exp(v0) - v1_bar * v_m1 / v0**2
x1_bar = v1_bar / v0
dy_dx1, dy_dx2 = x1_bar, x2_bar
print(f"dy/dx1 = {dy_dx1:.4f}, dy/dx2 = {dy_dx2:.4f}")

# %% [markdown]
# ## 2 Getting to know Pytorch

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torchvision
import torchvision.transforms as transforms
from torch import nn
from torch.utils.data import DataLoader, Subset

device = "cuda" if torch.cuda.is_available() else "cpu"
to_tensor = transforms.ToTensor()
mnist_train = torchvision.datasets.MNIST("./data", train=True, download=True, transform=to_tensor)
mnist_test = torchvision.datasets.MNIST("./data", train=False, download=True, transform=to_tensor)
train_loader = DataLoader(mnist_train, batch_size=100, shuffle=True)
test_loader = DataLoader(mnist_test, batch_size=1000)


def accuracy(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            correct += (model(images).argmax(1) == labels).sum().item()
            total += labels.size(0)
    return correct / total


def train(model, loader, optimizer, epochs):
    criterion = nn.CrossEntropyLoss()
    losses = []
    for epoch in range(epochs):
        model.train()
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        print(f"epoch {epoch + 1}: loss {losses[-1]:.3f}")
    return losses


mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256),
                    nn.ReLU(), nn.Linear(256, 10)).to(device)
train(mlp, train_loader, torch.optim.Adam(mlp.parameters(), lr=1e-3), epochs=10)
print(f"train accuracy {accuracy(mlp, train_loader):.3f}, "
      f"test accuracy {accuracy(mlp, test_loader):.3f}")

# %% [markdown]
# ## 3 Image classification with a deep network
# The sheet's 10 epochs on a GPU; on a CPU a short schedule on part of the data.

# %%
GPU = torch.cuda.is_available()
EPOCHS = 10 if GPU else 1
normalize = transforms.Compose([transforms.ToTensor(),
                                transforms.Normalize((0.4914, 0.4822, 0.4465),
                                                     (0.2470, 0.2435, 0.2616))])
cifar_train = torchvision.datasets.CIFAR10("./data", train=True, download=True,
                                           transform=normalize)
cifar_test = torchvision.datasets.CIFAR10("./data", train=False, download=True,
                                          transform=normalize)
train_part = cifar_train if GPU else Subset(cifar_train, range(512))
test_part = cifar_test if GPU else Subset(cifar_test, range(256))
cifar_loader = DataLoader(train_part, batch_size=256, shuffle=True)
cifar_test_loader = DataLoader(test_part, batch_size=256)
CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M")


class VGG16(nn.Module):
    def __init__(self, batch_norm=False, dropout=0.0):
        super().__init__()
        layers, channels = [], 3
        for width in CONFIG:
            if width == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            layers.append(nn.Conv2d(channels, width, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU())
            channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(512, 512), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(512, 512), nn.ReLU(), nn.Dropout(dropout), nn.Linear(512, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


vgg = VGG16().to(device)
vgg_losses = train(vgg, cifar_loader,
                   torch.optim.Adam(vgg.parameters(), lr=1e-4, weight_decay=1e-3), EPOCHS)
print(f"test accuracy {accuracy(vgg, cifar_test_loader):.3f}")

# %% [markdown]
# ### iii) Three test images classified correctly and three wrongly, with probabilities

# %%
classes = cifar_test.classes if hasattr(cifar_test, "classes") else [str(i) for i in range(10)]
images, labels = next(iter(cifar_test_loader))
with torch.no_grad():
    vgg.eval()
    probs = torch.softmax(vgg(images.to(device)), 1).cpu()
right = (probs.argmax(1) == labels).nonzero().flatten()[:3].tolist()
wrong = (probs.argmax(1) != labels).nonzero().flatten()[:3].tolist()
fig, axes = plt.subplots(2, max(len(right + wrong), 1), figsize=(14, 5))
for col, index in enumerate(right + wrong):
    image = images[index].permute(1, 2, 0).numpy()
    axes[0, col].imshow((image - image.min()) / (np.ptp(image) + 1e-8))
    axes[0, col].set_title(f"true {classes[labels[index]]}")
    axes[1, col].bar(range(10), probs[index].numpy())
plt.show()

# %% [markdown]
# ### iv) Dropout and batch norm

# %%
vgg_bn = VGG16(batch_norm=True, dropout=0.5).to(device)
train(vgg_bn, cifar_loader,
      torch.optim.Adam(vgg_bn.parameters(), lr=1e-4, weight_decay=1e-3), EPOCHS)
print(f"test accuracy with dropout and batch norm {accuracy(vgg_bn, cifar_test_loader):.3f}")
