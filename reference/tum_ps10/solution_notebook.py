# %%
# TUM EI 70360 problem set 10, problem 2 -- reference notebook (handout settings).
import numpy as np
import torch
import torchvision
import torchvision.transforms as transforms
from torch import nn
from torch.utils.data import DataLoader, Subset

transform = transforms.Compose(
    [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
trainset = torchvision.datasets.CIFAR10(root="./data", train=True, download=True,
                                        transform=transform)
testset = torchvision.datasets.CIFAR10(root="./data", train=False, download=True,
                                       transform=transform)

# %%
# 2.1 cat, dog and ship only: 3000 training and 1000 test images per class, batch size 4
classes = ("cat", "dog", "ship")
keep = {3: 0, 5: 1, 8: 2}


def restrict(dataset, per_class):
    targets = np.array(dataset.targets)
    index = np.concatenate([np.where(targets == c)[0][:per_class] for c in keep])
    dataset.target_transform = lambda t: keep[t]
    return Subset(dataset, index.tolist())


trainloader = DataLoader(restrict(trainset, 3000), batch_size=4, shuffle=True)
testloader = DataLoader(restrict(testset, 1000), batch_size=4, shuffle=False)


# %%
# 2.2 a fully connected network: 3072 -> 512 -> 3, ReLU
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3 * 32 * 32, 512)
        self.fc2 = nn.Linear(512, len(classes))

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.fc2(torch.relu(self.fc1(x)))


net = MLP()


# %%
# 2.3 SGD (lr 0.001, momentum 0.9), cross-entropy, 10 epochs; keep the best model
def accuracy(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            correct += (model(images).argmax(1) == labels).sum().item()
            total += labels.size(0)
    return correct / total


criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
EPOCHS = 10
best = 0.0
for epoch in range(EPOCHS):
    net.train()
    for images, labels in trainloader:
        optimizer.zero_grad()
        loss = criterion(net(images), labels)
        loss.backward()
        optimizer.step()
    train_acc, test_acc = accuracy(net, trainloader), accuracy(net, testloader)
    print(f"epoch {epoch + 1}: train accuracy {100 * train_acc:.2f} %, "
          f"test accuracy {100 * test_acc:.2f} %")
    if test_acc > best:
        best = test_acc
        torch.save(net.state_dict(), "best_model.pth")

# %%
# 2.4 the best model: overall and per-class test accuracy
best_net = MLP()
best_net.load_state_dict(torch.load("best_model.pth"))
print(f"Test accuracy of the best model: {100 * accuracy(best_net, testloader):.2f} %")
correct = {c: 0 for c in classes}
total = {c: 0 for c in classes}
with torch.no_grad():
    for images, labels in testloader:
        for label, prediction in zip(labels, best_net(images).argmax(1), strict=True):
            total[classes[label]] += 1
            correct[classes[label]] += int(label == prediction)
for c in classes:
    print(f"Accuracy for class {c}: {100 * correct[c] / total[c]:.1f} %")
