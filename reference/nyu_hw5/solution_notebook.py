# %% [markdown]
# # Homework 5 -- reference notebook
# ### Problem 2
# (a) What are the shapes of Z and Y?

# %%
Z_shape = Y_shape = (48 - 3 + 1, 64 - 3 + 1, 20)
Z_shape

# %% [markdown]
# (b) What are the number of input and output channels?

# %%
in_channels, out_channels = 10, 20

# %% [markdown]
# (c) How many multiply- and add- operations are required to perform a forward pass
# through this layer?

# %%
multiply_adds = (46 * 62 * 20) * (3 * 3 * 10)
print(f"{multiply_adds:,} multiply-adds")

# %% [markdown]
# (d) What are the total number of trainable parameters in this layer?

# %%
n_params = 3 * 3 * 10 * 20 + 20
n_params

# %% [markdown]
# #### Problem 4
# Fine-tune a pre-trained ResNet34 for the two-class dataset.

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.optim as optim
from torchvision import datasets, models, transforms

dset_transform = transforms.Compose([
    transforms.Resize(256),
    transforms.CenterCrop(224),
    transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
dsets = {x: datasets.ImageFolder(f"data/{x}", dset_transform) for x in ["train", "val"]}
dataloaders = {x: torch.utils.data.DataLoader(dsets[x], batch_size=16, shuffle=(x == "train"),
                                              num_workers=0) for x in ["train", "val"]}
device = "cuda" if torch.cuda.is_available() else "cpu"
EPOCHS = 20 if device == "cuda" else 1

model = models.resnet34(pretrained=True)
num_ftrs = model.fc.in_features
model.fc = nn.Linear(num_ftrs, 2)
model = model.to(device)
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
save_loss = {"train": [], "val": []}
save_acc = {"train": [], "val": []}

# %%
for epoch in range(EPOCHS):
    for phase in ["train", "val"]:
        if phase == "train":
            model.train()
        else:
            model.eval()
        current_loss = 0.0
        current_corrects = 0
        for inputs, labels in dataloaders[phase]:
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            with torch.set_grad_enabled(phase == "train"):
                outputs = model(inputs)
                _, preds = torch.max(outputs, 1)
                loss = criterion(outputs, labels)
                if phase == "train":
                    loss.backward()
                    optimizer.step()
            current_loss += loss.item() * inputs.size(0)
            current_corrects += torch.sum(preds == labels.data)
        save_loss[phase] += [current_loss / len(dataloaders[phase].dataset)]
        save_acc[phase] += [current_corrects.float().item() / len(dataloaders[phase].dataset)]
        print(f"Epoch:{epoch} -- Phase:{phase} -- Loss:{save_loss[phase][-1]:.2f} -- "
              f"Acc:{save_acc[phase][-1] * 100:.2f}")

# %%
plt.plot(save_loss["train"])
plt.plot(save_loss["val"])
plt.legend(["train", "val"])
plt.title("Loss")
plt.savefig("loss.png")
plt.close()
plt.plot(save_acc["train"])
plt.plot(save_acc["val"])
plt.legend(["train", "val"])
plt.title("Accuracy")
plt.savefig("acc.png")
plt.close()
