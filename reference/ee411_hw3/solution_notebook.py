# %% [markdown]
# # EE-411 Homework 3 -- reference notebook
# ## 1 Backpropagation with logistic loss

# %%
import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    # The two branches keep exp() from overflowing for large |z|.
    out = np.empty_like(z, dtype=np.float64)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def predict(X: np.ndarray, W: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    z_1 = X @ W["w_1"]
    x_1 = sigmoid(z_1)
    z_2 = (x_1 @ W["w_2"]).reshape(-1)
    return z_1, z_2, sigmoid(z_2)


def logistic_loss(y: np.ndarray, y_hat: np.ndarray) -> float:
    return float(np.mean(-y * np.log(y_hat) - (1 - y) * np.log(1 - y_hat)))


def stable_logistic_loss(y: np.ndarray, z_2: np.ndarray) -> float:
    # -log(sigmoid(z)) = logaddexp(0, -z) and -log(1 - sigmoid(z)) = logaddexp(0, z)
    return float(np.mean(y * np.logaddexp(0, -z_2) + (1 - y) * np.logaddexp(0, z_2)))


def average_loss(X: np.ndarray, y: np.ndarray, W: dict[str, np.ndarray]) -> float:
    """The loss whose gradient question 1.5 asks for (used for finite differences)."""
    return stable_logistic_loss(y, predict(X, W)[1])


def gradient(X: np.ndarray, y: np.ndarray, W: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    B = X.shape[0]
    z_1, _, y_hat = predict(X, W)
    x_1 = sigmoid(z_1)
    delta_2 = ((y_hat - y) / B).reshape(-1, 1)  # B x 1
    grad_w_2 = x_1.T @ delta_2  # K x 1
    delta_1 = (delta_2 @ W["w_2"].T) * x_1 * (1 - x_1)  # B x K
    grad_w_1 = X.T @ delta_1  # D x K
    return {"w_1": grad_w_1, "w_2": grad_w_2}

# %% [markdown]
# ## 2 Classifying KMNIST using neural networks
# ### 2.1 Loading and visualising KMNIST (ToTensor makes samples tensors)

# %%
import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import DataLoader, random_split
from torchvision import datasets, transforms

EPOCHS = 20
STEPS_PER_EPOCH = None  # None: whole epochs, as the handout asks
to_tensor = transforms.ToTensor()
full_train = datasets.KMNIST("./data", train=True, download=True, transform=to_tensor)
test_set = datasets.KMNIST("./data", train=False, download=True, transform=to_tensor)
train_set, val_set = random_split(full_train, [50_000, 10_000],
                                  generator=torch.Generator().manual_seed(0))
train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
val_loader = DataLoader(val_set, batch_size=256)
test_loader = DataLoader(test_set, batch_size=256)

fig, axes = plt.subplots(1, 8, figsize=(12, 2))
for ax, i in zip(axes, range(8), strict=True):
    image, label = full_train[i]
    ax.imshow(image[0], cmap="gray")
    ax.set_title(int(label))
    ax.axis("off")
plt.show()


# %%
def train(model, optimizer, loader=None, epochs=None):
    """Train; return per-step training losses and per-epoch validation losses."""
    loader, epochs = loader or train_loader, epochs or EPOCHS
    criterion = nn.CrossEntropyLoss()
    steps, val = [], []
    for _ in range(epochs):
        model.train()
        for i, (x, y) in enumerate(loader):
            if STEPS_PER_EPOCH is not None and i >= STEPS_PER_EPOCH:
                break
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            steps.append(loss.item())
        model.eval()
        with torch.no_grad():
            val.append(sum(criterion(model(x), y).item() for x, y in val_loader)
                       / len(val_loader))
    return steps, val


OPTIMIZERS = {
    "SGD lr=0.01": lambda p: torch.optim.SGD(p, lr=0.01),
    "SGD momentum 0.9 nesterov": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9,
                                                           nesterov=True),
    "Adam lr=0.01": lambda p: torch.optim.Adam(p, lr=0.01),
    "Adam lr=1": lambda p: torch.optim.Adam(p, lr=1),
}


def compare(make_model, title):
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    models = {}
    for name, make_optimizer in OPTIMIZERS.items():
        model = make_model()
        steps, val = train(model, make_optimizer(model.parameters()))
        left.plot(steps, label=name)
        right.plot(range(1, len(val) + 1), val, marker="o", label=name)
        models[name] = model
    left.set(title=f"{title}: training loss per step", xlabel="step", yscale="log")
    right.set(title=f"{title}: validation loss per epoch", xlabel="epoch", yscale="log")
    left.legend()
    plt.show()
    return models


# %% [markdown]
# ### 2.2 MLP: two hidden layers of 100, ReLU

# %%
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(784, 100), nn.ReLU(),
                                    nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10))

    def forward(self, x):
        return self.layers(x)


mlps = compare(MLP, "MLP")
mlp = mlps["SGD momentum 0.9 nesterov"]


# %% [markdown]
# ### 2.3 CNN: 16, 32, 64 channels, 3x3 kernels, max-pooling after each

# %%
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(64, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


cnns = compare(CNN, "CNN")
cnn = cnns["SGD momentum 0.9 nesterov"]


# %% [markdown]
# ### 2.4 Counting parameters

# %%
def count_parameters(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


print("MLP:", count_parameters(MLP()), "CNN:", count_parameters(CNN()))


# %% [markdown]
# ### 2.5 PermutedKMNIST

# %%
class RandomPermutation(object):
    def __init__(self, num_features):
        self.num_features = num_features
        self.reindex = torch.randperm(num_features)

    def __call__(self, img):
        assert self.num_features == img.numel()

        orig_shape = img.shape
        img = img.view(-1)[self.reindex].view(orig_shape)

        return img


permute = transforms.Compose([transforms.ToTensor(), RandomPermutation(28 * 28)])
permuted_train = datasets.KMNIST("./data", train=True, download=True, transform=permute)
permuted_loader = DataLoader(permuted_train, batch_size=64, shuffle=True)
fig, axes = plt.subplots(1, 8, figsize=(12, 2))
for ax, i in zip(axes, range(8), strict=True):
    ax.imshow(permuted_train[i][0][0], cmap="gray")
    ax.axis("off")
plt.show()

nesterov = OPTIMIZERS["SGD momentum 0.9 nesterov"]
permuted_mlp, permuted_cnn = MLP(), CNN()
train(permuted_mlp, nesterov(permuted_mlp.parameters()), loader=permuted_loader)
train(permuted_cnn, nesterov(permuted_cnn.parameters()), loader=permuted_loader)
